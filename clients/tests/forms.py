"""What the admin's client form posts, for tests that submit it."""


def client_form(*, numbers: list[tuple[str, str]] = (), initial: list[int] = (), **fields: str) -> dict:
    """The client's fields, and its other numbers as the inline posts them: (kind, value) rows,
    the first `len(initial)` of them the existing rows with these ids."""
    data = {"name": "", "phone": "", "whatsapp_id": "", "whatsapp_lid": "", **fields}
    data.update({"numbers-TOTAL_FORMS": str(len(numbers)), "numbers-INITIAL_FORMS": str(len(initial))})
    for i, (kind, value) in enumerate(numbers):
        data.update({f"numbers-{i}-kind": kind, f"numbers-{i}-value": value})
        if i < len(initial):
            data[f"numbers-{i}-id"] = str(initial[i])
    return data

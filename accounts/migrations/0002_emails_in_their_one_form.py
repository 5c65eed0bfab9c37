"""Users saved before emails had one form get it, so they can still log in.

The login now looks an address up exactly in its normal form (UserManager.normalize_email). The
function is copied here as it was when this migration was written: a migration must not change
when the code does. Two users whose addresses share a normal form are left as they are (and
named): merging accounts is a person's decision.
"""

import unicodedata

from django.db import migrations


def normal(email):
    return unicodedata.normalize("NFKC", (email or "").strip()).upper().lower()


def forwards(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    taken = {}
    for pk, email in User.objects.values_list("pk", "email"):
        taken.setdefault(normal(email), []).append((pk, email))
    for form, users in taken.items():
        if len(users) > 1:
            print(f"\n  users {', '.join(e for _, e in users)} share the address {form}: left unchanged")
            continue
        (pk, email), = users
        if email != form:
            User.objects.filter(pk=pk).update(email=form)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

from django.http import HttpRequest, JsonResponse

from crm.health import database_problem


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up. Touches nothing else: a load balancer may call it every second."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """The database answers and every migration is applied: one small query."""
    problem = database_problem()
    if problem is None:
        return JsonResponse({"status": "ok"})
    reason, missing = problem
    answer = {"status": "unavailable", "reason": reason}
    if missing:
        answer["migrations"] = missing
    return JsonResponse(answer, status=503)

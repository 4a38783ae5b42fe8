"""The traveller's pages: the registration form a poster opens (/r/{entry point}) and the
personal code page (/t/{code}). No login; the personal code is the only key.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.deps import ServicesDep, context_for, public_base_url
from api.i18n import COOKIE, Language, choose, languages
from api.limits import client_address
from api.routers.registrations import (
    document_key,
    per_address,
    per_code_address,
    per_document,
    per_phone,
)
from api.status_words import describe, describe_order
from api.traveller_form import MAX_MEMBERS, MAX_PLACES, TravellerForm
from dashboard import TEMPLATES_DIR
from domain.errors import DomainError, InvalidInput, NotFound
from projections.queries import read_reference
from tracking.mrz import parse_mrz
from tracking.qr import qr_png, qr_svg
from tracking.services import Services
from tracking.travellers import name_of, party_journeys, prefill, traveller_status

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
LanguageDep = Annotated[Language, Depends(choose)]
# Pages that carry a personal code must not be cached, indexed or leak it as a referrer.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}
THROTTLED = "too many attempts from here; please wait a minute and try again"
CODE_UNKNOWN = "this code does not work; ask the staff nearby for help"
UNKNOWN_ENTRY_POINT = (
    "this registration code is not in use; ask the staff nearby for the right one"
)
FOUND_PRE_REGISTERED = "we found the details your airline or the border gave us; please check them"
FOUND_OPEN = "you are already registered; check your details and submit any changes"
FOUND_EARLIER_TRIP = "welcome back; we filled in the details from your last trip"
FOUND_NOTHING = "we found nothing under this document and birth date; please fill in the form"
SYMPTOM_CHOICES = (
    ("fever", "Fever"),
    ("cough", "Cough"),
    ("sore_throat", "Sore throat"),
    ("short_of_breath", "Short of breath"),
    ("loss_of_smell_or_taste", "Loss of smell or taste"),
    ("diarrhoea", "Diarrhoea"),
    ("fatigue", "Tiredness"),
    ("muscle_pain", "Muscle pain"),
)


def _page(
    request: Request,
    lang: Language,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        template,
        {
            "_": lang.gettext,
            "lang": lang,
            "languages": sorted(languages().values(), key=lambda x: x.code),
            **context,
        },
        status_code=status,
        headers={**SECURITY_HEADERS, **PRIVATE_HEADERS, **(headers or {})},
    )
    if request.query_params.get("lang") == lang.code:
        response.set_cookie(COOKIE, lang.code, max_age=365 * 86400, samesite="lax")
    return response


def _streets(services: Services) -> list[dict[str, Any]]:
    sites = read_reference(services.store)["sites"]
    return [s for s in sites if s["kind"] == "home"]


# -- the registration form --------------------------------------------------------------------


@router.get("/r/{entry_point}", response_class=HTMLResponse)
def registration_form(
    entry_point: str, request: Request, services: ServicesDep, lang: LanguageDep
) -> HTMLResponse:
    return _form_page(request, services, lang, entry_point, TravellerForm())


@router.post("/r/{entry_point}", response_class=HTMLResponse)
async def submit_registration(
    entry_point: str, request: Request, services: ServicesDep, lang: LanguageDep
) -> Response:
    posted = await request.form()
    form = TravellerForm.from_post(posted, posted.getlist)
    action = str(posted.get("action", "submit"))
    return await run_in_threadpool(
        _act, action, form, entry_point, request, services, lang
    )


def _act(
    action: str,
    form: TravellerForm,
    entry_point: str,
    request: Request,
    services: Services,
    lang: Language,
) -> Response:
    notice = ""
    if action == "add_member" and len(form.people) <= MAX_MEMBERS:
        form.people.append({})
    elif action.startswith("remove_member-"):
        index = _index(action)
        if 0 < index < len(form.people):
            form.people.pop(index)
            form.mrz = {(k - 1 if k > index else k): v for k, v in form.mrz.items() if k != index}
    elif action == "add_place" and len(form.places) < MAX_PLACES:
        form.places.append({})
    elif action.startswith("read_mrz-"):
        _read_mrz(form, _index(action))
    elif action == "lookup":
        notice = _look_up(form, services, request)
    elif action == "submit":
        return _submit(form, entry_point, request, services, lang)
    return _form_page(request, services, lang, entry_point, form, notice=notice)


def _index(action: str) -> int:
    tail = action.rpartition("-")[2]
    return int(tail) if tail.isdigit() else -1


def _read_mrz(form: TravellerForm, i: int) -> None:
    if not 0 <= i < len(form.people):
        return
    try:
        mrz = parse_mrz(form.mrz.get(i, ""))
    except InvalidInput as e:
        form.errors[f"t{i}-mrz"] = str(e)
        return
    form.fill_document(
        i,
        {
            "doc_type": mrz.doc_type,
            "doc_country": mrz.doc_country,
            "doc_number": mrz.doc_number,
            "name_latin": mrz.name_latin,
            "nationality": mrz.nationality,
            "birth_date": mrz.birth_date.isoformat(),
            "sex": mrz.sex,
        },
    )


def _look_up(form: TravellerForm, services: Services, request: Request) -> str:
    """Fill each traveller whose document and birth date match what we hold."""
    found = ""
    for i, person in enumerate(form.people):
        try:
            born = date.fromisoformat(person.get("birth_date", ""))
            document = (person["doc_type"], person["doc_country"], person["doc_number"])
        except (KeyError, ValueError):
            continue
        if not _allowed(request, document_key(*document)):
            return THROTTLED
        try:
            known = prefill(services.app, *document, born)
        except DomainError:
            continue
        if known is None:
            continue
        form.fill(i, known.details, with_trip=known.open_journey)
        if i == 0:
            found = (
                FOUND_PRE_REGISTERED
                if known.pre_registered
                else FOUND_OPEN
                if known.open_journey
                else FOUND_EARLIER_TRIP
            )
    return found or FOUND_NOTHING


def _submit(
    form: TravellerForm, entry_point: str, request: Request, services: Services, lang: Language
) -> Response:
    travellers = form.validate()
    if travellers is None:
        return _form_page(request, services, lang, entry_point, form, status=422)
    lead = travellers[0]
    if not _allowed(
        request, document_key(lead.doc_type, lead.doc_country, lead.doc_number), lead.phone
    ):
        return _form_page(
            request, services, lang, entry_point, form, status=429, notice=THROTTLED,
            headers=per_address.retry_headers,
        )
    try:
        answer = services.app.register_travellers(
            entry_point, [t.as_person() for t in travellers], context_for(None)
        )
    except NotFound:
        return _unknown_entry_point(request, lang)
    except DomainError as e:
        status = 422 if isinstance(e, InvalidInput) else 409
        return _form_page(request, services, lang, entry_point, form, status=status, notice=str(e))
    outcome = (
        "confirmed" if answer.get("pre_registered")
        else "amended" if answer.get("already_registered")
        else "registered"
    )
    code = services.codes.code_for(UUID(answer["journey_ids"][0]))
    return RedirectResponse(f"/t/{code}?done={outcome}", status_code=303)


def _allowed(request: Request, document: str, phone: str = "") -> bool:
    return (
        per_address.allows(f"ip:{client_address(request)}")
        and per_document.allows(document)
        and (not phone or per_phone.allows(hashlib.sha256(phone.encode()).hexdigest()))
    )


def _form_page(
    request: Request,
    services: Services,
    lang: Language,
    entry_point: str,
    form: TravellerForm,
    *,
    status: int = 200,
    notice: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    try:
        entry = services.app.entry_point(entry_point)
    except NotFound:
        return _unknown_entry_point(request, lang)
    return _page(
        request,
        lang,
        "traveller/register.html",
        status,
        headers,
        entry=entry,
        form=form,
        streets=_streets(services),
        notice=notice,
        max_members=MAX_MEMBERS,
        symptom_choices=SYMPTOM_CHOICES,
        max_places=MAX_PLACES,
    )


def _unknown_entry_point(request: Request, lang: Language) -> HTMLResponse:
    return _page(
        request,
        lang,
        "traveller/message.html",
        404,
        message=UNKNOWN_ENTRY_POINT,
    )


# -- the personal code page -------------------------------------------------------------------


@router.get("/t/{code}", response_class=HTMLResponse)
def personal_code_page(
    code: str, request: Request, services: ServicesDep, lang: LanguageDep
) -> HTMLResponse:
    if not _code_lookups_allowed(request):
        return _page(
            request, lang, "traveller/message.html", 429, per_code_address.retry_headers,
            message=THROTTLED,
        )
    journey_id = services.codes.resolve(code)
    if journey_id is None:
        return _page(request, lang, "traveller/message.html", 404, message=CODE_UNKNOWN)
    status = traveller_status(services.app, journey_id, with_order=True)
    base = public_base_url(services, request)
    others = [
        (services.codes.code_for(j), name_of(services.app, j))
        for j in party_journeys(services.app, journey_id)[1:]
        if not services.app.journey(j).erased  # an erased member has no code any more
    ]
    return _page(
        request,
        lang,
        "traveller/status.html",
        status=200,
        code=code,
        status_url=f"{base}/t/{code}",
        qr=qr_svg(f"{base}/t/{code}", title=lang.gettext("your personal code")),
        traveller=status,
        words=describe(status, lang),
        order=describe_order(status.order, lang),
        done=request.query_params.get("done", ""),
        family=others,
    )


@router.get("/t/{code}/qr.svg")
def personal_qr_svg(code: str, request: Request, services: ServicesDep) -> Response:
    if _resolve(code, request, services) is None:
        return Response(CODE_UNKNOWN, status_code=404, media_type="text/plain")
    svg = qr_svg(f"{public_base_url(services, request)}/t/{code}")
    return Response(svg, media_type="image/svg+xml", headers=PRIVATE_HEADERS)


@router.get("/t/{code}/qr.png")
def personal_qr_png(code: str, request: Request, services: ServicesDep) -> Response:
    if _resolve(code, request, services) is None:
        return Response(CODE_UNKNOWN, status_code=404, media_type="text/plain")
    png = qr_png(f"{public_base_url(services, request)}/t/{code}")
    return Response(
        png,
        media_type="image/png",
        headers={**PRIVATE_HEADERS, "Content-Disposition": 'inline; filename="my-code.png"'},
    )


def _code_lookups_allowed(request: Request) -> bool:
    return per_code_address.allows(client_address(request))


def _resolve(code: str, request: Request, services: Services) -> UUID | None:
    if not _code_lookups_allowed(request):
        raise HTTPException(429, THROTTLED, headers=per_code_address.retry_headers)
    return services.codes.resolve(code)

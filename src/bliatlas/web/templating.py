"""The pages' Jinja2 environment, shared by every router that renders HTML (the atlas
pages, the planner, login, the API's docs and error pages): template folder, filters and
globals, set up once here."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup, escape

from bliatlas import jobs
from bliatlas.format import fmt_count, fmt_signed, keep_digit_groups
from bliatlas.indicators.sentences import format_number
from bliatlas.knowledge.citations import render_html
from bliatlas.knowledge.vocab import NOT_GIVEN
from bliatlas.privacy import SUPPRESSION_NOTE
from bliatlas.regions.names import display_name
from bliatlas.render.map import UNCERTAIN_LEGEND
from bliatlas.serving import CSRF_FIELD, SOURCE_NOTE, csrf_token
from bliatlas.web import STATIC_DIR, views  # noqa: F401 (STATIC_DIR re-exported)


@pass_context
def csrf_field(context) -> Markup:
    """The hidden CSRF field every POST form carries (``bliatlas.api.middleware.Csrf``)."""
    request = context["request"]
    state = request.scope.setdefault("state", {})
    token = csrf_token(state, state.get("csrf_cookie"))
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">')


TEMPLATE_DIR = Path(__file__).with_name("templates")

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
# A heading keeps a number whole on one line: "per 1 000 innbyggere" ({{ name|hel }}).
templates.env.filters["hel"] = keep_digit_groups
templates.env.filters["num"] = lambda v, d=1: format_number(v, d) if v is not None else "–"
templates.env.filters["antall"] = fmt_count  # {{ n|antall('kommune', 'kommuner') }}
templates.env.filters["signed"] = lambda v, d=0: fmt_signed(v, d)  # +3, −12 (minus sign)
templates.env.globals["SOURCE_NOTE"] = SOURCE_NOTE
templates.env.globals["DIRECTION_NB"] = views.DIRECTION_NB
templates.env.globals["TOPICS_NB"] = views.TOPICS_NB
templates.env.globals["UNCERTAIN_LEGEND"] = UNCERTAIN_LEGEND
templates.env.globals["SUPPRESSION_NOTE"] = SUPPRESSION_NOTE
templates.env.globals["NOT_GIVEN"] = NOT_GIVEN
# A knowledge text with its citation marks as links to the entry's sources.
templates.env.filters["marks"] = lambda text: Markup(render_html(text or ""))
templates.env.globals["csrf_field"] = csrf_field
templates.env.globals["job_status"] = jobs.status
# An official name as lists show it: "Hattfjelldal (Aarborte)" (bliatlas.regions.names).
templates.env.filters["stedsnavn"] = display_name


def error_page(request: Request, status: int, message: str,
               headers: dict[str, str] | None = None) -> Response:
    """The Norwegian error page (``error.html``) with ``status``."""
    return templates.TemplateResponse(request, "error.html",
                                      {"message": message, "title": "Feil"},
                                      status_code=status, headers=headers)

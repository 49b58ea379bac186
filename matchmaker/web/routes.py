"""Every route of the app, in one declarative list.

Who may call each view is declared on the view (`@endpoint(...)` in auth.py) and readable
as `route.endpoint.roles`; tests/test_web_authz.py walks this list, so a new route is
covered by the authorization test without being named there.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from matchmaker.web import api, pages_account as acc, pages_demands as dem, pages_org as org
from matchmaker.web import pages_events as ev, pages_sme as sme

GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]

ROUTES = [
    # accounts
    Route("/", acc.home, methods=GET, name="home"),
    Route("/login", acc.login_page, methods=BOTH, name="login"),
    Route("/logout", acc.logout, methods=POST, name="logout"),
    Route("/invite/{token}", acc.invite_page, methods=BOTH, name="invite"),
    Route("/account", acc.account, methods=BOTH, name="account"),
    Route("/users", acc.users_page, methods=BOTH, name="users"),
    Route("/users/{user_id}/toggle", acc.user_toggle, methods=POST, name="user_toggle"),
    # chain leaders' demands (organizers see all of them)
    Route("/demands", dem.demand_list, methods=GET, name="demands"),
    Route("/demands/new", dem.demand_new, methods=BOTH, name="demand_new"),
    Route("/demands/check", dem.demand_check, methods=POST, name="demand_check"),
    Route("/demands/upload", dem.demand_upload, methods=BOTH, name="demand_upload"),
    Route("/demands/{demand_id}", dem.demand_detail, methods=GET, name="demand"),
    Route("/demands/{demand_id}/matches", dem.demand_matches, methods=GET, name="demand_matches"),
    Route("/demands/{demand_id}/edit", dem.demand_edit, methods=BOTH, name="demand_edit"),
    Route("/demands/{demand_id}/status", dem.demand_status, methods=POST, name="demand_status"),
    Route("/demands/{demand_id}/shortlist", dem.shortlist_toggle, methods=POST, name="shortlist"),
    Route("/demands/{demand_id}/smes/{credit_code}", dem.demand_sme, methods=GET, name="demand_sme"),
    # SMEs
    Route("/profile", sme.profile, methods=BOTH, name="profile"),
    Route("/recommended", sme.recommended, methods=GET, name="recommended"),
    Route("/opportunities/{demand_id}", sme.opportunity, methods=GET, name="opportunity"),
    Route("/opportunities/{demand_id}/request", sme.request_meeting, methods=POST,
          name="request_meeting"),
    Route("/requests", sme.request_list, methods=GET, name="requests"),
    Route("/requests/{request_id}/answer", sme.request_answer, methods=POST, name="request_answer"),
    Route("/agenda", sme.agenda, methods=GET, name="agenda"),
    # organizers
    Route("/dashboard", org.dashboard, methods=GET, name="dashboard"),
    Route("/firms", org.firm_list, methods=GET, name="firms"),
    Route("/firms/import", org.firm_import, methods=BOTH, name="firm_import"),
    Route("/firms/{credit_code}", org.firm_detail, methods=GET, name="firm"),
    Route("/chains", org.chain_index, methods=GET, name="chains"),
    Route("/chains/{chain}", org.chain_map, methods=GET, name="chain"),
    Route("/chains/{chain}/map.svg", org.chain_map_svg, methods=GET, name="chain_svg"),
    # events
    Route("/events", ev.event_list, methods=BOTH, name="events"),
    Route("/events/{event_id}", ev.event_workspace, methods=GET, name="event"),
    Route("/events/{event_id}/invite", ev.event_invite, methods=POST, name="event_invite"),
    Route("/events/{event_id}/pair", ev.event_pair, methods=POST, name="event_pair"),
    Route("/events/{event_id}/constraints", ev.event_constraints, methods=POST,
          name="event_constraints"),
    Route("/events/{event_id}/open", ev.event_open, methods=POST, name="event_open"),
    Route("/events/{event_id}/publish", ev.event_publish, methods=POST, name="event_publish"),
    Route("/events/{event_id}/meetings/{meeting_id}/lock", ev.meeting_lock, methods=POST,
          name="meeting_lock"),
    Route("/events/{event_id}/meetings/{meeting_id}/move", ev.meeting_move, methods=POST,
          name="meeting_move"),
    Route("/events/{event_id}/meetings/{meeting_id}/outcome", ev.meeting_outcome, methods=POST,
          name="meeting_outcome"),
    Route("/events/{event_id}/checkin", ev.event_checkin, methods=BOTH, name="event_checkin"),
    Route("/events/{event_id}/repair", ev.event_repair, methods=POST, name="event_repair"),
    Route("/events/{event_id}/sheets/{fmt}", ev.event_sheet, methods=GET, name="event_sheet"),
    # JSON API
    Route("/api/openapi.json", api.openapi, methods=GET, name="api_openapi"),
    Route("/api/health", api.health, methods=GET, name="api_health"),
    Route("/api/me", api.me, methods=GET, name="api_me"),
    Route("/api/demands", api.demands, methods=GET, name="api_demands"),
    Route("/api/demands", api.demand_create, methods=POST, name="api_demand_create"),
    Route("/api/demands/{demand_id}", api.demand, methods=GET, name="api_demand"),
    Route("/api/demands/{demand_id}", api.demand_update, methods=["PATCH"], name="api_demand_update"),
    Route("/api/demands/{demand_id}/matches", api.demand_matches, methods=GET,
          name="api_demand_matches"),
    Route("/api/firms", api.firms, methods=GET, name="api_firms"),
    Route("/api/firms/{credit_code}/recommendations", api.firm_recommendations, methods=GET,
          name="api_firm_recommendations"),
    Route("/api/events", api.events, methods=GET, name="api_events"),
    Route("/api/events/{event_id}/meetings", api.event_meetings, methods=GET,
          name="api_event_meetings"),
    Route("/api/events/{event_id}/meetings/{meeting_id}/outcome", api.meeting_outcome,
          methods=POST, name="api_meeting_outcome"),
    Route("/api/requests", api.requests_list, methods=GET, name="api_requests"),
    Route("/api/requests", api.request_create, methods=POST, name="api_request_create"),
    Route("/api/requests/{request_id}/answer", api.request_answer, methods=POST,
          name="api_request_answer"),
]


def build_routes(static_dir: Path) -> list:
    return ROUTES + [Mount("/static", StaticFiles(directory=str(static_dir)), name="static")]

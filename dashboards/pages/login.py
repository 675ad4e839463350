"""Log in: a coordinator exchanges the hub account's password for a read-API token."""

import flask
from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboards.client import HubRefused, HubUnavailable
from dashboards.components import SESSION_TOKEN, context, relative

PAGE = {"path": "/login", "name": "Log in", "title": "Log in · CARMEN", "order": 9}
ROLES = ("coordinator", "admin")


def layout(**_: str) -> html.Div:
    """Username and password of a hub account."""
    return html.Div(
        [
            dcc.Location(id="login-redirect", refresh=True),
            html.H1("Log in"),
            html.P("Use your hub account (the coordinator role); the hub checks the password."),
            html.Div(
                [
                    html.Label("Username", htmlFor="login-username"),
                    dcc.Input(id="login-username", type="text", autoComplete="username"),
                    html.Label("Password", htmlFor="login-password"),
                    dcc.Input(
                        id="login-password", type="password", autoComplete="current-password"
                    ),
                    html.Button("Log in", id="login-submit", n_clicks=0),
                ],
                className="login-form",
            ),
            html.Div(id="login-message", role="alert"),
        ]
    )


def log_in(clicks: int, username: str | None, password: str | None) -> tuple[object, object]:
    """Ask the hub for a token; keep it in the signed session cookie, then go to the pages."""
    if not clicks:
        return no_update, no_update
    if not username or not password:
        return "Enter your username and password.", no_update
    client = context().client
    try:
        answer = client.login(username=username, password=password)
    except HubRefused as error:
        return f"The hub refused the login: {error.message}.", no_update
    except HubUnavailable as error:
        return f"The federation hub is unreachable: {error}.", no_update
    if answer.get("role") not in ROLES:
        return "This account has no coordinator role.", no_update
    flask.session[SESSION_TOKEN] = answer["token"]
    return "Logged in.", relative("/")


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(
        Output("login-message", "children"),
        Output("login-redirect", "href"),
        Input("login-submit", "n_clicks"),
        State("login-username", "value"),
        State("login-password", "value"),
        prevent_initial_call=True,
    )(log_in)

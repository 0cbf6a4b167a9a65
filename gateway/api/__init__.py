"""The admin REST API: notifications, platform alerts and rules, with its OpenAPI document.

`add_api_routes(app)` (in `routes`) registers it; `gateway.http.auth.setup_auth(app)` guards it.
"""

"""Dashboard sign-in over HTTP: cookies, rotation, expiry, CSRF and Origin checks, throttling."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest
import structlog
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from gateway.http.auth import ADMIN_PREFIX
from gateway.http.login_throttle import LoginThrottle
from gateway.http.sessions import COOKIE_NAME, CSRF_HEADER
from gateway.services.admin_notification_service import (
    admin_notification_service,
    platform_alert_service,
)
from gateway.services.admin_user_service import FIRST_ADMIN_EMAIL, create_user, disable
from gateway.services.passwords import HashParameters, Passwords
from gateway.services.session_service import session_id
from gateway.services.token_service import create_token
from gateway.storage.models import AdminNotification, AdminSession, AdminUser, PlatformAlert
from gateway.storage.types import utcnow

LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"
N = "/api/v1/admin/notifications"
STREAM = N + "/stream"
ADMIN, VIEWER, DISABLED = "ops@example.com", "viewer@example.com", "gone@example.com"
PASSWORD = "correct horse battery"
CHEAP = Passwords(HashParameters(time_cost=1, memory_cost=8, parallelism=1))
EVIL = "https://evil.example"

Client = TestClient[Any, Any]


@pytest.fixture
async def accounts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """An admin, a viewer and a disabled admin; their ids by email."""
    ids = {}
    async with sessions() as db, db.begin():
        for email, role in ((ADMIN, "admin"), (VIEWER, "viewer"), (DISABLED, "admin")):
            user = await create_user(db, email=email, password=PASSWORD, role=role, passwords=CHEAP)
            ids[email] = user.id
        await disable(db, DISABLED)
    return ids


@pytest.fixture
async def client(make_client: Any, accounts: dict[str, int]) -> Client:
    return await make_client()  # type: ignore[no-any-return]


def origin(client: Client) -> str:
    """Return the gateway's own origin as a browser on its pages would send it."""
    return str(client.make_url("/").origin())


async def login(
    client: Client,
    email: str = ADMIN,
    password: str = PASSWORD,
    headers: dict[str, str] | None = None,
) -> ClientResponse:
    resp = await client.post(
        LOGIN,
        json={"email": email, "password": password},
        headers={"Origin": origin(client)} if headers is None else headers,
    )
    await resp.read()
    return resp


async def sign_in(client: Client, email: str = ADMIN) -> str:
    """Sign in (the cookie goes to the client's jar); return the CSRF token."""
    resp = await login(client, email)
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["csrf_token"])


def cookie_of(resp: ClientResponse) -> str:
    return resp.cookies[COOKIE_NAME].value


def set_cookie_header(resp: ClientResponse) -> str:
    [header] = [h for h in resp.headers.getall("Set-Cookie") if h.startswith(COOKIE_NAME + "=")]
    return header


async def with_cookie(client: Client, method: str, path: str, cookie: str, **kw: Any) -> int:
    """Send a request carrying exactly `cookie` as the session; return the status."""
    client.session.cookie_jar.clear()
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}", **kw.pop("headers", {})}
    async with client.request(method, path, headers=headers, **kw) as resp:
        await resp.read()
        return resp.status


async def seed_notification(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as db, db.begin():
        row = await admin_notification_service.create_notification(
            db,
            notification_type="import_failure",
            priority="high",
            title="Import failed",
            message="CSV parsing failed",
            source="test",
        )
        assert row is not None
        return row.id


async def seed_alert(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as db, db.begin():
        row = await platform_alert_service.create_alert(
            db, alert_type="integration", severity="error", title="API down", source="test"
        )
        return row.id


async def notification(sessions: async_sessionmaker[AsyncSession], id_: int) -> AdminNotification:
    async with sessions() as db:
        row = await db.get(AdminNotification, id_)
    assert row is not None
    return row


async def alert(sessions: async_sessionmaker[AsyncSession], id_: int) -> PlatformAlert:
    async with sessions() as db:
        row = await db.get(PlatformAlert, id_)
    assert row is not None
    return row


async def session_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(AdminSession)) or 0)


class TestLogin:
    async def test_success_sets_the_cookie_and_returns_the_user_and_csrf_token(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """A right password answers the user and a CSRF token and sets gw_session."""
        resp = await login(client, "OPS@Example.com")
        assert resp.status == 200
        body = await resp.json()
        assert body["user"]["email"] == ADMIN and body["user"]["role"] == "admin"
        assert body["user"]["last_login_at"] is not None
        assert len(body["csrf_token"]) >= 43
        assert resp.headers["Cache-Control"] == "no-store"
        cookie = cookie_of(resp)
        async with sessions() as db:
            row = await db.get(AdminSession, hashlib.sha256(cookie.encode()).hexdigest())
        assert row is not None and row.csrf_token == body["csrf_token"]
        assert row.user_agent and row.ip == "127.0.0.1"

    async def test_cookie_attributes(self, client: Client) -> None:
        """The cookie is HttpOnly, SameSite=Lax, Path=/, and not Secure over plain http."""
        header = set_cookie_header(await login(client))
        attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
        assert "httponly" in attributes and "secure" not in attributes
        assert "SameSite=Lax" in header and "Path=/" in header
        assert "Max-Age" not in header and "expires" not in header.lower()

    async def test_secure_cookies_setting_marks_the_cookie_secure(
        self, make_client: Any, accounts: dict[str, int]
    ) -> None:
        """With secure_cookies (behind a TLS proxy) the cookie is Secure and https expected."""
        client = await make_client(secure_cookies=True)
        https_origin = origin(client).replace("http://", "https://")
        resp = await login(client, headers={"Origin": https_origin})
        assert resp.status == 200
        assert "Secure" in set_cookie_header(resp)
        assert (await login(client)).status == 403  # http:// is not how browsers reach it

    async def test_form_body_is_accepted(self, client: Client) -> None:
        """The credentials may come as an HTML form."""
        resp = await client.post(
            LOGIN,
            data={"email": ADMIN, "password": PASSWORD},
            headers={"Origin": origin(client)},
        )
        assert resp.status == 200
        assert COOKIE_NAME in resp.cookies

    async def test_failures_look_alike_whatever_the_reason(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Wrong password, unknown account and disabled account answer the same 401."""
        answers = []
        for email, password in (
            (ADMIN, "wrong password!"),
            ("ghost@x.y", PASSWORD),
            (DISABLED, PASSWORD),
        ):
            resp = await login(client, email, password)
            assert resp.status == 401
            assert COOKIE_NAME not in resp.cookies
            answers.append((await resp.json())["detail"])
        assert len(set(answers)) == 1 and answers[0] == "invalid email or password"
        assert await session_count(sessions) == 0

    @pytest.mark.parametrize(
        ("body", "status"),
        [
            ({"email": ADMIN}, 400),
            ({"email": ADMIN, "password": 5}, 400),
            ({"email": "x" * 300 + "@x", "password": PASSWORD}, 400),
            ([ADMIN, PASSWORD], 400),
        ],
    )
    async def test_malformed_credentials_are_400(
        self, client: Client, body: Any, status: int
    ) -> None:
        """Missing or non-string fields are refused before any check."""
        resp = await client.post(LOGIN, json=body, headers={"Origin": origin(client)})
        assert resp.status == status
        assert resp.content_type == "application/problem+json"

    async def test_other_content_types_are_415(self, client: Client) -> None:
        """Credentials in plain text are refused with 415."""
        resp = await client.post(
            LOGIN, data=b"email=a", headers={"Origin": origin(client), "Content-Type": "text/plain"}
        )
        assert resp.status == 415

    @pytest.mark.parametrize(
        "headers",
        [
            {"Origin": EVIL},
            {"Origin": "null"},
            {"Referer": EVIL + "/login"},
            {"Origin": "http://127.0.0.1:1"},
        ],
    )
    async def test_cross_site_login_is_refused(
        self,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        headers: dict[str, str],
    ) -> None:
        """Another site cannot sign a browser in: a foreign Origin or Referer is 403."""
        resp = await login(client, headers=headers)
        assert resp.status == 403
        assert "cross-site" in (await resp.json())["detail"]
        assert await session_count(sessions) == 0

    async def test_same_origin_referer_or_no_header_is_accepted(self, client: Client) -> None:
        """A same-origin Referer passes; so does a client that sends neither header (curl)."""
        assert (await login(client, headers={"Referer": origin(client) + "/login"})).status == 200
        assert (await login(client, headers={})).status == 200


class TestLoginLog:
    async def test_sign_ins_are_logged_without_secrets(self, client: Client) -> None:
        """Sign-in events name the user id and address, never the password or the cookie."""
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as entries:
            assert (await login(client, ADMIN, "wrong password!")).status == 401
            cookie = cookie_of(await login(client))
        events = {entry["event"] for entry in entries}
        assert {"login_failed", "login"} <= events
        logged = repr(entries)
        assert PASSWORD not in logged and "wrong password!" not in logged
        assert cookie not in logged


class TestThrottle:
    async def test_five_failures_lock_the_account_with_retry_after(self, client: Client) -> None:
        """After 5 failures the account answers 429 with Retry-After, even to the right password."""
        for _ in range(5):
            assert (await login(client, password="wrong password!")).status == 401
        resp = await login(client)
        assert resp.status == 429
        retry_after = int(resp.headers["Retry-After"])
        assert 0 < retry_after <= 15 * 60
        assert "too many failed sign-in attempts" in (await resp.json())["detail"]
        assert COOKIE_NAME not in resp.cookies
        assert (await login(client, VIEWER)).status == 200  # other accounts are unaffected

    async def test_unknown_accounts_are_throttled_alike(self, client: Client) -> None:
        """An unknown email locks after 5 failures too, so 429 tells nothing about existence."""
        for _ in range(5):
            assert (await login(client, "ghost@example.com")).status == 401
        assert (await login(client, "ghost@example.com")).status == 429

    async def test_twenty_failures_lock_the_address(self, client: Client) -> None:
        """Failures across many accounts from one address lock that address after 20."""
        for n in range(20):
            assert (await login(client, f"user{n}@example.com")).status == 401
        resp = await login(client)
        assert resp.status == 429 and "Retry-After" in resp.headers

    async def test_success_clears_the_accounts_failures(self, client: Client) -> None:
        """A successful sign-in forgives the account's earlier failures."""
        for _ in range(4):
            assert (await login(client, password="wrong password!")).status == 401
        assert (await login(client)).status == 200
        for _ in range(4):
            assert (await login(client, password="wrong password!")).status == 401
        assert (await login(client)).status == 200

    async def test_concurrent_guesses_cannot_exceed_the_limit(self, client: Client) -> None:
        """A burst of simultaneous guesses is cut at the limit, not after the checks finish."""
        statuses = await asyncio.gather(
            *(login(client, password=f"guess number {n}") for n in range(12))
        )
        assert sorted(r.status for r in statuses) == [401] * 5 + [429] * 7


class TestLoginThrottleUnit:
    def test_window_slides(self) -> None:
        """Failures older than the window stop counting; Retry-After is when the oldest ends."""
        now = [1000.0]
        throttle = LoginThrottle(
            account_limit=2, address_limit=100, window=60, clock=lambda: now[0]
        )
        assert throttle.attempt("a", "ip") is None
        now[0] += 10
        assert throttle.attempt("a", "ip") is None
        assert throttle.attempt("a", "ip") == 50
        now[0] += 50
        assert throttle.attempt("a", "ip") is None

    def test_success_forgives_the_attempt_and_the_accounts_failures(self) -> None:
        """succeeded() clears the account and takes back one attempt of the address."""
        throttle = LoginThrottle(account_limit=2, address_limit=2, window=60, clock=lambda: 0.0)
        throttle.attempt("a", "ip")
        throttle.succeeded("a", "ip")
        assert throttle.attempt("a", "ip") is None
        assert throttle.attempt("a", "ip") is None
        assert throttle.attempt("b", "ip") is not None

    def test_memory_is_bounded(self) -> None:
        """Past max_keys, the keys that failed least recently are forgotten."""
        throttle = LoginThrottle(account_limit=1, address_limit=1000, max_keys=3, clock=lambda: 0.0)
        for name in "abcd":
            throttle.attempt(name, "ip")
        assert throttle.attempt("a", "ip") is None  # forgotten
        assert throttle.attempt("d", "ip") is not None


class TestSessionLifecycle:
    async def test_me_returns_the_user_and_the_same_csrf_token(self, client: Client) -> None:
        """GET /me answers who is signed in and the session's CSRF token."""
        token = await sign_in(client, VIEWER)
        resp = await client.get(ME)
        assert resp.status == 200
        body = await resp.json()
        assert body["user"]["email"] == VIEWER and body["user"]["role"] == "viewer"
        assert body["csrf_token"] == token

    async def test_me_without_a_session_is_401(self, client: Client) -> None:
        """Without a cookie /me is 401; an unknown cookie is 401 and cleared."""
        assert (await client.get(ME)).status == 401
        client.session.cookie_jar.clear()
        resp = await client.get(ME, headers={"Cookie": f"{COOKIE_NAME}=forged"})
        assert resp.status == 401
        assert "Max-Age=0" in set_cookie_header(resp)

    async def test_login_always_starts_a_fresh_session(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Signing in again gives a new cookie and ends the session the browser had."""
        first = cookie_of(await login(client))
        second_resp = await login(client)  # the jar still sends the first cookie
        second = cookie_of(second_resp)
        assert first != second
        assert await with_cookie(client, "GET", ME, first) == 401
        assert await with_cookie(client, "GET", ME, second) == 200
        async with sessions() as db:
            old = await db.get(AdminSession, session_id(first))
        assert old is None or old.revoked_at is not None  # revoked, then purged

    async def test_planted_cookie_is_not_adopted(self, client: Client) -> None:
        """A session id chosen before sign-in is never the one the sign-in creates."""
        client.session.cookie_jar.clear()
        resp = await client.post(
            LOGIN,
            json={"email": ADMIN, "password": PASSWORD},
            headers={"Origin": origin(client), "Cookie": f"{COOKIE_NAME}=planted-by-attacker"},
        )
        assert resp.status == 200 and cookie_of(resp) != "planted-by-attacker"

    async def test_logout_revokes_and_clears_the_cookie(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Logout ends the session; its cookie then gets 401 on /me and on the admin API."""
        token = await sign_in(client)
        cookie = next(c.value for c in client.session.cookie_jar if c.key == COOKIE_NAME)
        resp = await client.post(LOGOUT, headers={"Origin": origin(client), CSRF_HEADER: token})
        assert resp.status == 204
        assert "Max-Age=0" in set_cookie_header(resp)
        async with sessions() as db:
            row = await db.get(AdminSession, session_id(cookie))
        assert row is not None and row.revoked_at is not None
        assert await with_cookie(client, "GET", ME, cookie) == 401
        assert await with_cookie(client, "GET", N, cookie) == 401

    async def test_logout_needs_the_csrf_token(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Another site cannot sign the user out: logout without the token is 403."""
        await sign_in(client)
        resp = await client.post(LOGOUT, headers={"Origin": origin(client)})
        assert resp.status == 403
        assert (await client.get(ME)).status == 200

    async def test_logout_without_a_session_just_clears_the_cookie(self, client: Client) -> None:
        """Logging out when not signed in is harmless: 204."""
        resp = await client.post(LOGOUT)
        assert resp.status == 204

    async def test_idle_session_expires(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """A session unused for 30 minutes gets 401; one used 29 minutes ago is refreshed."""
        await sign_in(client)
        async with sessions() as db, db.begin():
            await db.execute(
                update(AdminSession).values(last_seen_at=utcnow() - timedelta(minutes=29))
            )
        assert (await client.get(ME)).status == 200
        async with sessions() as db:
            seen = await db.scalar(select(AdminSession.last_seen_at))
        assert seen is not None and utcnow() - seen < timedelta(minutes=1)
        async with sessions() as db, db.begin():
            await db.execute(
                update(AdminSession).values(last_seen_at=utcnow() - timedelta(minutes=31))
            )
        assert (await client.get(ME)).status == 401
        assert (await client.get(N)).status == 401

    async def test_idle_timeout_setting(
        self, make_client: Any, accounts: dict[str, int], sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """session_idle_timeout shortens the idle limit."""
        client = await make_client(session_idle_timeout=120)
        await sign_in(client)
        async with sessions() as db, db.begin():
            await db.execute(
                update(AdminSession).values(last_seen_at=utcnow() - timedelta(minutes=3))
            )
        assert (await client.get(ME)).status == 401

    async def test_absolute_timeout_ends_a_busy_session(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Past expires_at (12 hours after sign-in) the session gets 401 however recently used."""
        await sign_in(client)
        async with sessions() as db:
            row = await db.scalar(select(AdminSession))
        assert row is not None
        assert row.expires_at - row.created_at == timedelta(hours=12)
        async with sessions() as db, db.begin():
            await db.execute(
                update(AdminSession).values(
                    created_at=utcnow() - timedelta(hours=12, minutes=1),
                    expires_at=utcnow() - timedelta(minutes=1),
                    last_seen_at=utcnow(),
                )
            )
        assert (await client.get(ME)).status == 401

    async def test_disabling_the_account_ends_its_sessions(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """A disabled account's session gets 401 on its next request."""
        await sign_in(client)
        async with sessions() as db, db.begin():
            await disable(db, ADMIN)
        assert (await client.get(N)).status == 401


class TestAdminApiWithSession:
    async def test_admin_session_reads_and_streams(self, client: Client) -> None:
        """An admin's session reads the API and opens the live stream without any token."""
        await sign_in(client)
        assert (await client.get(N)).status == 200
        async with client.get(STREAM) as resp:
            assert resp.status == 200
            first = await asyncio.wait_for(resp.content.readuntil(b"event: hello"), 5)
            assert first.endswith(b"event: hello")

    async def test_admin_session_write_records_the_user(
        self,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        accounts: dict[str, int],
    ) -> None:
        """Marking read and resolving with the session record the signed-in user's id."""
        notification_id, alert_id = await seed_notification(sessions), await seed_alert(sessions)
        token = await sign_in(client)
        headers = {"Origin": origin(client), CSRF_HEADER: token}
        resp = await client.put(f"{N}/{notification_id}/read", headers=headers)
        assert resp.status == 200, await resp.text()
        resp = await client.put(
            f"{N}/alerts/{alert_id}/resolve", json={"resolution_notes": "fixed"}, headers=headers
        )
        assert resp.status == 200, await resp.text()
        read = await notification(sessions, notification_id)
        assert read.is_read and read.read_by_user_id == accounts[ADMIN]
        resolved = await alert(sessions, alert_id)
        assert resolved.is_resolved and resolved.resolved_by_user_id == accounts[ADMIN]

    async def test_viewer_reads_but_cannot_write(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """A viewer's session may GET every admin route but gets 403 on every write."""
        notification_id = await seed_notification(sessions)
        await seed_alert(sessions)
        token = await sign_in(client, VIEWER)
        headers = {"Origin": origin(client), CSRF_HEADER: token}
        for method, path in admin_routes(client):
            url = path.replace("{id}", "1")
            async with client.request(method, url, headers=headers) as resp:
                if method == "GET":
                    assert resp.status == 200, (method, path)
                else:
                    assert resp.status == 403, (method, path)
                    assert "may only read" in (await resp.json())["detail"]
        assert not (await notification(sessions, notification_id)).is_read

    async def test_every_write_needs_the_csrf_token(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Every admin write route refuses an admin session without the token; reads need none."""
        await seed_notification(sessions)
        await seed_alert(sessions)
        await sign_in(client)
        for method, path in admin_routes(client):
            url = path.replace("{id}", "1")
            async with client.request(method, url, headers={"Origin": origin(client)}) as resp:
                assert resp.status == (200 if method == "GET" else 403), (method, path)
        assert (await notification(sessions, 1)).is_read is False

    async def test_bearer_tokens_need_no_csrf_token(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """A bearer-token write passes without Origin or CSRF token, cookie or not."""
        notification_id = await seed_notification(sessions)
        async with sessions() as db, db.begin():
            _, token = await create_token(db, name="ci", scope="admin")
        await sign_in(client, VIEWER)
        resp = await client.put(
            f"{N}/{notification_id}/read", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status == 200
        row = await notification(sessions, notification_id)
        assert row.is_read and row.read_by_user_id is None


HOSTILE: list[tuple[str, dict[str, str], bool]] = [
    # (what, headers, send the right token)
    ("foreign Origin with the token", {"Origin": EVIL}, True),
    ("null Origin with the token", {"Origin": "null"}, True),
    ("foreign Referer, no Origin, with the token", {"Referer": EVIL + "/x"}, True),
    ("neither Origin nor Referer, with the token", {}, True),
    ("own Origin, no token", {"Origin": "SELF"}, False),
    ("own Origin, wrong token", {"Origin": "SELF", CSRF_HEADER: "guessed"}, False),
    ("foreign Origin, no token", {"Origin": EVIL}, False),
]
FRIENDLY: list[tuple[str, dict[str, str]]] = [
    ("own Origin", {"Origin": "SELF"}),
    ("own Referer, no Origin", {"Referer": "SELF/dashboard"}),
]


def headers_for(client: Client, headers: dict[str, str], token: str | None) -> dict[str, str]:
    out = {k: v.replace("SELF", origin(client)) for k, v in headers.items()}
    if token is not None:
        out[CSRF_HEADER] = token
    return out


class TestCrossSiteRequests:
    @pytest.mark.parametrize(
        ("what", "headers", "with_token"), HOSTILE, ids=[h[0] for h in HOSTILE]
    )
    async def test_hostile_writes_change_nothing(
        self,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        what: str,
        headers: dict[str, str],
        with_token: bool,
    ) -> None:
        """A forged write can neither mark a notification read nor resolve an alert (403)."""
        notification_id, alert_id = await seed_notification(sessions), await seed_alert(sessions)
        token = await sign_in(client)
        sent = headers_for(client, headers, token if with_token else None)
        resp = await client.put(f"{N}/{notification_id}/read", headers=sent)
        assert resp.status == 403, what
        resp = await client.put(f"{N}/alerts/{alert_id}/resolve", json={}, headers=sent)
        assert resp.status == 403, what
        assert not (await notification(sessions, notification_id)).is_read
        assert not (await alert(sessions, alert_id)).is_resolved

    async def test_cross_site_form_post_changes_nothing(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """An HTML form on another site, posting with the victim's cookie, gets 403."""
        notification_id, alert_id = await seed_notification(sessions), await seed_alert(sessions)
        await sign_in(client)
        for path in (f"{N}/{notification_id}/read", f"{N}/alerts/{alert_id}/resolve", N):
            resp = await client.post(
                path,
                data={"resolution_notes": "x", "title": "t"},
                headers={"Origin": EVIL, "Referer": EVIL + "/attack"},
            )
            assert resp.status == 403, path
        assert not (await notification(sessions, notification_id)).is_read
        assert not (await alert(sessions, alert_id)).is_resolved
        async with sessions() as db:
            count = await db.scalar(select(func.count()).select_from(AdminNotification))
        assert count == 1

    @pytest.mark.parametrize(("what", "headers"), FRIENDLY, ids=[f[0] for f in FRIENDLY])
    async def test_own_pages_with_the_token_may_write(
        self,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        what: str,
        headers: dict[str, str],
    ) -> None:
        """Our own origin (or Referer) with the session's token passes."""
        notification_id = await seed_notification(sessions)
        token = await sign_in(client)
        resp = await client.put(
            f"{N}/{notification_id}/read", headers=headers_for(client, headers, token)
        )
        assert resp.status == 200, what
        assert (await notification(sessions, notification_id)).is_read


class TestIngestRefusesSessions:
    async def test_session_cookie_cannot_ingest(
        self, make_client: Any, accounts: dict[str, int], sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Ingestion takes ingest tokens only: a signed-in admin's cookie and token get 401."""
        client = await make_client(host="0.0.0.0")  # off loopback, so tokens are required
        token = await sign_in(client)
        resp = await client.post(
            "/api/v1/ingest/logs",
            data=b'{"event": "store.issue", "store_id": 1, "store_name": "A", "issue": "i", '
            b'"message": "m"}',
            headers={
                "Content-Type": "application/x-ndjson",
                "Origin": origin(client),
                CSRF_HEADER: token,
            },
        )
        assert resp.status == 401
        async with sessions() as db:
            count = await db.scalar(select(func.count()).select_from(AdminNotification))
        assert count == 0


class TestFirstAdmin:
    async def test_first_start_creates_an_admin_and_prints_its_password_once(
        self, make_client: Any, sessions: async_sessionmaker[AsyncSession], capsys: Any
    ) -> None:
        """On an empty database the app prints admin@localhost's password, which signs in."""
        client = await make_client()
        out = capsys.readouterr().out
        assert FIRST_ADMIN_EMAIL in out
        password = next(
            line.strip()
            for line in out.splitlines()
            if line.startswith("      ")
            and line.strip()
            and FIRST_ADMIN_EMAIL not in line
            and "gateway" not in line
        )
        resp = await login(client, FIRST_ADMIN_EMAIL, password)
        assert resp.status == 200
        assert (await resp.json())["user"]["role"] == "admin"
        async with sessions() as db:
            stored = await db.scalar(select(AdminUser.password_hash))
        assert stored is not None and password not in stored
        await make_client()  # a second start on the same database
        assert FIRST_ADMIN_EMAIL not in capsys.readouterr().out


def admin_routes(client: Client) -> list[tuple[str, str]]:
    """Every (method, path) the router serves under the admin prefix."""
    return sorted(
        {
            (route.method, route.resource.canonical)
            for route in client.app.router.routes()
            if route.resource is not None
            and route.resource.canonical.startswith(ADMIN_PREFIX + "/")
            and route.method not in ("HEAD", "*")
            and not route.resource.canonical.endswith("/stream")
        }
    )

"""--action-url-hosts / GATEWAY_ACTION_URL_HOSTS: which hosts the dashboard may link to."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.cli import build_parser, environment_variables
from gateway.settings import Settings, parse_action_url_hosts


class TestParse:
    def test_default_is_empty(self) -> None:
        """Without the setting only the gateway's own pages are linked."""
        assert Settings().action_url_hosts == ()
        assert parse_action_url_hosts("") == ()

    @pytest.mark.parametrize(
        ("value", "hosts"),
        [
            ("shop.example.com", ("shop.example.com",)),
            (
                " Shop.Example.COM , tools.example:8443 ,",
                ("shop.example.com", "tools.example:8443"),
            ),
            ("*.corp.example", ("*.corp.example",)),
            ("localhost:08080", ("localhost:8080",)),
            ("10.0.0.7,[0:0::1]:8443,[::1]", ("10.0.0.7", "[::1]:8443", "[::1]")),
            ("a.example,A.EXAMPLE", ("a.example",)),
        ],
    )
    def test_accepted_and_normalized(self, value: str, hosts: tuple[str, ...]) -> None:
        """Hosts are lower-cased, ports canonical, blanks and duplicates dropped."""
        assert parse_action_url_hosts(value) == hosts
        assert Settings(action_url_hosts=value).action_url_hosts == hosts

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("https://shop.example.com", "is a URL, not a host"),
            ("javascript:alert(1)", "is a URL, not a host"),
            ("data:text/html;base64", "is a URL, not a host"),
            ("shop.example.com/orders", "is not a host name"),
            ("//shop.example.com", "is not a host name"),
            ("user@shop.example.com", "is not a host name"),
            ("shop.example.com?x", "is not a host name"),
            ("shop\\example.com", "is not a host name"),
            ("shop example.com", "is not a host name"),
            ("*", "is not a host name"),
            ("a.*.example", "is not a host name"),
            ("-shop.example", "is not a host name"),
            ("shop.example.com:0", "invalid port"),
            ("shop.example.com:65536", "invalid port"),
            ("[nope]:80", "invalid IPv6 address"),
            ("1.2.3", "neither a host name nor an IPv4 address"),
            ("*.10.0.0.1", "a wildcard needs a host name"),
            ("bücher.example", "xn-- form"),
        ],
    )
    def test_refused_with_a_clear_error(self, value: str, message: str) -> None:
        """A URL, path, user info or malformed host is refused, naming the entry."""
        with pytest.raises(ValueError, match="action URL host") as raised:
            parse_action_url_hosts(f"ok.example,{value}")
        assert message in str(raised.value)
        assert repr(value.strip()) in str(raised.value)
        with pytest.raises(ValidationError, match=message):
            Settings(action_url_hosts=[value])


class TestCommandLine:
    def test_flag_sets_the_hosts(self) -> None:
        args = build_parser().parse_args(["serve", "--action-url-hosts", "A.example,*.b.example"])
        assert args.action_url_hosts == ("a.example", "*.b.example")
        assert Settings(action_url_hosts=args.action_url_hosts).action_url_hosts == (
            "a.example",
            "*.b.example",
        )

    def test_environment_sets_the_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert "GATEWAY_ACTION_URL_HOSTS" in environment_variables()
        monkeypatch.setenv("GATEWAY_ACTION_URL_HOSTS", "shop.example.com")
        assert build_parser().parse_args(["serve"]).action_url_hosts == ("shop.example.com",)
        monkeypatch.delenv("GATEWAY_ACTION_URL_HOSTS")
        assert build_parser().parse_args(["serve"]).action_url_hosts == ()

    def test_bad_value_is_a_usage_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A URL in the variable stops `serve` with the reason, like a bad flag."""
        monkeypatch.setenv("GATEWAY_ACTION_URL_HOSTS", "https://shop.example.com/")
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args(["serve"])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "argument --action-url-hosts: action URL host 'https://shop.example.com/'" in err
        assert "is a URL, not a host" in err

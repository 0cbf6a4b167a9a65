"""Receive: turn request bodies from log shippers and webhook senders into events.

The modules here other than `handlers` are pure: bytes and headers in, event dicts or domain
errors out, no I/O. A request passes through them in order: `bodies` decompresses within a
byte budget, `signatures` authenticates a webhook, then `formats` splits and parses log lines
(`logfmt` for text) and hands each to `normalize`, or `alertmanager` validates that sender's
payload. `limits` holds the budgets they share.
"""

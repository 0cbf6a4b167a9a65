"""Admin notification gateway: structured logs and webhooks in, admin notifications out."""

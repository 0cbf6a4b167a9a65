"""The admin dashboard: templates, scripts and styles served by the gateway."""

from dashboard.views import setup_dashboard

__all__ = ["setup_dashboard"]

"""The admin dashboard: templates, scripts and styles served by the gateway."""

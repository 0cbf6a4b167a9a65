"""The typed vocabulary shared by rules and the gateway: notification and alert kinds.

It lives here, in the pure package, because the rules loader must reject unknown values with a
file position, and the gateway (which imports `rules`, never the reverse) stores the same values.
"""

from enum import StrEnum


class NotificationType(StrEnum):
    IMPORT_FAILURE = "import_failure"
    ORDER_SYNC_FAILURE = "order_sync_failure"
    ORDER_EXCEPTION = "order_exception"
    CRITICAL_ERROR = "critical_error"
    STORE_ISSUE = "store_issue"
    SECURITY_ALERT = "security_alert"
    SYSTEM_INFO = "system_info"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class AlertType(StrEnum):
    SECURITY = "security"
    PERFORMANCE = "performance"
    CAPACITY = "capacity"
    INTEGRATION = "integration"
    SYSTEM = "system"
    DATABASE = "database"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

"""Imports every module that defines tables, so metadata and migrations see them all."""

from engine.alerts import models as alerts_models  # noqa: F401
from engine.analytics import deviation_counts as analytics_deviation_counts  # noqa: F401
from engine.analytics import hour_counts as analytics_hour_counts  # noqa: F401
from engine.analytics import indexes as analytics_indexes  # noqa: F401
from engine.analytics import return_reason_counts as analytics_return_reason_counts  # noqa: F401
from engine.fulfillment import models as fulfillment_models  # noqa: F401
from engine.fulfillment import presale_counts as fulfillment_presale_counts  # noqa: F401
from engine.inventory import models as inventory_models  # noqa: F401
from engine.orders import model as orders_model  # noqa: F401
from engine.orders import pipeline_model as orders_pipeline_model  # noqa: F401
from engine.orders import pull_model as orders_pull_model  # noqa: F401
from engine.risk import models as risk_models  # noqa: F401
from engine.storage import models  # noqa: F401
from engine.waybills import model as waybills_model  # noqa: F401
from engine.workflow import models as workflow_models  # noqa: F401

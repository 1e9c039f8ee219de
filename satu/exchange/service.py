"""The exchange domain's public service: what other domains and the composition roots call.

Functions are keyword-only, take a `Session`, flush and never commit. Each block below
re-exports one part of the exchange.
"""

from __future__ import annotations

# --- registry ---
# --- transparency log ---
# --- gateway ---
# --- pub/sub ---
from satu.exchange.delivery import BackgroundDelivery as BackgroundDelivery
from satu.exchange.delivery import deliver_once as deliver_once
from satu.exchange.pubsub import create_event_type as create_event_type
from satu.exchange.pubsub import find_room as find_room
from satu.exchange.pubsub import grant_subscription_right as grant_subscription_right
from satu.exchange.pubsub import subscribe as subscribe
from satu.exchange.pubsub_schemas import EventItem as EventItem
from satu.exchange.pubsub_schemas import EventTypeIn as EventTypeIn
from satu.exchange.pubsub_schemas import SubscriptionIn as SubscriptionIn

# --- data tracker ---
from satu.exchange.tracker import UsagePage as UsagePage
from satu.exchange.tracker import find_usage as find_usage
from satu.exchange.tracker import verify_inclusion as verify_inclusion

# --- demo providers ---

"""The exchange domain's public service: what other domains and the composition roots call.

Functions are keyword-only, take a `Session`, flush and never commit. Each block below
re-exports one part of the exchange.
"""

from __future__ import annotations

# --- registry ---
# isort: split
from satu.exchange.consumer_auth import authenticate_consumer as authenticate_consumer
from satu.exchange.consumer_auth import exchange_client as exchange_client
from satu.exchange.keys import jwks as jwks
from satu.exchange.keys import list_keys as list_keys
from satu.exchange.keys import public_key as public_key
from satu.exchange.keys import register_public_key as register_public_key
from satu.exchange.keys import signing_key as signing_key
from satu.exchange.keys import verifying_key as verifying_key
from satu.exchange.registry import add_mandate as add_mandate
from satu.exchange.registry import allowed_operations as allowed_operations
from satu.exchange.registry import allowed_services as allowed_services
from satu.exchange.registry import disable_service as disable_service
from satu.exchange.registry import end_mandate as end_mandate
from satu.exchange.registry import find_mandate as find_mandate
from satu.exchange.registry import get_service as get_service
from satu.exchange.registry import get_subsystem as get_subsystem
from satu.exchange.registry import grant_access as grant_access
from satu.exchange.registry import is_allowed as is_allowed
from satu.exchange.registry import list_mandates as list_mandates
from satu.exchange.registry import list_rights as list_rights
from satu.exchange.registry import list_services as list_services
from satu.exchange.registry import list_subsystems as list_subsystems
from satu.exchange.registry import match_operation as match_operation
from satu.exchange.registry import register_service as register_service
from satu.exchange.registry import register_subsystem as register_subsystem
from satu.exchange.registry import resolve_client as resolve_client
from satu.exchange.registry import resolve_service as resolve_service
from satu.exchange.registry import revoke_access as revoke_access
from satu.exchange.registry import set_subsystem_client as set_subsystem_client
from satu.exchange.registry import subsystem_for_client_id as subsystem_for_client_id
from satu.exchange.registry import update_service as update_service
from satu.exchange.registry import update_subsystem as update_subsystem
from satu.exchange.schemas import Actor as Actor

# --- transparency log ---
from satu.exchange.transparency import inclusion_proof as inclusion_proof
from satu.exchange.transparency import latest_tree_head as latest_tree_head
from satu.exchange.transparency import sign_tree_head as sign_tree_head
from satu.exchange.transparency import subject_key as subject_key

# --- gateway ---

# --- pub/sub ---
# isort: split
from satu.exchange.delivery import BackgroundDelivery as BackgroundDelivery
from satu.exchange.delivery import deliver_once as deliver_once
from satu.exchange.pubsub import create_event_type as create_event_type
from satu.exchange.pubsub import find_room as find_room
from satu.exchange.pubsub import grant_subscription_right as grant_subscription_right
from satu.exchange.pubsub_schemas import EventItem as EventItem
from satu.exchange.pubsub_schemas import EventTypeIn as EventTypeIn
from satu.exchange.pubsub_schemas import SubscriptionIn as SubscriptionIn
from satu.exchange.pubsub_subs import subscribe as subscribe

# --- data tracker ---
# isort: split
from satu.exchange.tracker import UsagePage as UsagePage
from satu.exchange.tracker import find_usage as find_usage
from satu.exchange.tracker import verify_inclusion as verify_inclusion

# --- demo providers ---
# isort: split
from satu.exchange.demo import demo_notes as demo_notes
from satu.exchange.demo import demo_services as demo_services
from satu.exchange.demo import link_consumer_client as link_consumer_client
from satu.exchange.demo import seed_demo as seed_demo

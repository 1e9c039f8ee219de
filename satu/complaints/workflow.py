"""The LAPOR workflow: verifier actions, agency actions, reporter actions, clock and escalation.

This module is the workflow's public face: callers use `workflow.X`, and it re-exports each
name from the module that holds it: `workflow_common` (the states' transition table, text
checks, the event record, who may see and act on a case), `workflow_cases` (a case, its
attachments, the queue), `workflow_officers` (verifier and agency actions, reply templates),
`workflow_reporter` (reporter actions) and `workflow_clock` (escalation and auto-close).
"""

from __future__ import annotations

from satu.complaints.workflow_cases import attachment as attachment
from satu.complaints.workflow_cases import get_case as get_case
from satu.complaints.workflow_cases import queue as queue
from satu.complaints.workflow_clock import run_clock as run_clock
from satu.complaints.workflow_common import ALLOWED as ALLOWED
from satu.complaints.workflow_common import MAX_TEXT as MAX_TEXT
from satu.complaints.workflow_common import _load as _load
from satu.complaints.workflow_common import _record as _record
from satu.complaints.workflow_common import can_see as can_see
from satu.complaints.workflow_officers import add_reply_template as add_reply_template
from satu.complaints.workflow_officers import answer as answer
from satu.complaints.workflow_officers import archive as archive
from satu.complaints.workflow_officers import follow_up as follow_up
from satu.complaints.workflow_officers import forward as forward
from satu.complaints.workflow_officers import hand_back as hand_back
from satu.complaints.workflow_officers import merge as merge
from satu.complaints.workflow_officers import note as note
from satu.complaints.workflow_officers import postpone as postpone
from satu.complaints.workflow_officers import reply_templates as reply_templates
from satu.complaints.workflow_officers import reroute as reroute
from satu.complaints.workflow_officers import verify as verify
from satu.complaints.workflow_reporter import rate as rate
from satu.complaints.workflow_reporter import reopen as reopen
from satu.complaints.workflow_reporter import reporter_reply as reporter_reply

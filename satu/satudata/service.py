"""Satu Data's public service API: regions, NIK parsing, reference-data loading, agencies.

Other domains call only what this module exposes. Functions are keyword-only, take a
`Session`, flush and never commit.
"""

from __future__ import annotations

# --- regions, NIK and the region loader (helper A) ---------------------------------------
from satu.core.nik import InvalidNik as InvalidNik
from satu.satudata.loader import ReferenceDataError as ReferenceDataError
from satu.satudata.loader import count_rows as count_rows
from satu.satudata.loader import load_regions as load_regions
from satu.satudata.regions import get_region as get_region
from satu.satudata.regions import invalidate_district_cache as invalidate_district_cache
from satu.satudata.regions import is_region as is_region
from satu.satudata.regions import known_district_codes as known_district_codes
from satu.satudata.regions import nik_errors as nik_errors
from satu.satudata.regions import normalize_name as normalize_name
from satu.satudata.regions import parse_nik as parse_nik
from satu.satudata.regions import regency_populations as regency_populations
from satu.satudata.regions import region_detail as region_detail
from satu.satudata.regions import region_path as region_path
from satu.satudata.regions import search_regions as search_regions
from satu.satudata.regions import validate_niks as validate_niks
from satu.satudata.schemas import LoadReport as LoadReport
from satu.satudata.schemas import NikDetails as NikDetails
from satu.satudata.schemas import Page as Page
from satu.satudata.schemas import RegionOut as RegionOut

# --- agencies (re-exported from satu.satudata.agencies) ----------------------------------
# isort: split
from satu.satudata.agencies import agency_ancestors as agency_ancestors
from satu.satudata.agencies import agency_children as agency_children
from satu.satudata.agencies import agency_descendant_ids as agency_descendant_ids
from satu.satudata.agencies import agency_detail as agency_detail
from satu.satudata.agencies import agency_for_region as agency_for_region
from satu.satudata.agencies import agency_names as agency_names
from satu.satudata.agencies import find_agency as find_agency
from satu.satudata.agencies import get_agency as get_agency
from satu.satudata.agencies import list_agencies as list_agencies
from satu.satudata.agencies_loader import AgencyCatalogueError as AgencyCatalogueError
from satu.satudata.agencies_loader import load_agencies as load_agencies
from satu.satudata.agencies_schemas import AGENCY_KINDS as AGENCY_KINDS
from satu.satudata.agencies_schemas import AgencyDetail as AgencyDetail
from satu.satudata.agencies_schemas import AgencyKind as AgencyKind
from satu.satudata.agencies_schemas import AgencyLoadReport as AgencyLoadReport
from satu.satudata.agencies_schemas import AgencyOut as AgencyOut
from satu.satudata.agencies_schemas import AgencyPage as AgencyPage
from satu.satudata.agencies_schemas import AgencyRef as AgencyRef

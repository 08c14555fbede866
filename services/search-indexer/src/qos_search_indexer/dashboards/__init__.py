"""OpenSearch Dashboards saved objects as code, generated from the metric catalogue.

- `panels`: the panel specification as data, and the search each standard panel sends;
- `vega`: the catalogue's ratios as Vega charts (search body and formula);
- `filters`: catalogue filters as query DSL and DQL;
- `saved_objects`: the NDJSON of the index pattern, visualizations and dashboard;
- `importer`: `POST /api/saved_objects/_import` of that NDJSON;
- `python -m qos_search_indexer.dashboards generate | generate --check | import`.
"""

from __future__ import annotations

from pathlib import Path

#: The committed file (in a source checkout: services/search-indexer/dashboards/).
DEFAULT_PATH = Path(__file__).resolve().parents[3] / "dashboards" / "qos-dashboards.ndjson"

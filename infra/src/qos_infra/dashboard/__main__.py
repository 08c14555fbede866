"""`python -m qos_infra.dashboard --data-dir D --host H --port P`."""

from qos_infra.dashboard.server import main

raise SystemExit(main())

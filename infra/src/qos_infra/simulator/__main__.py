"""`python -m qos_infra.simulator …`: the same as `qos simulate …`."""

from qos_infra.simulator.cli import main

raise SystemExit(main())

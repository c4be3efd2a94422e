"""Survey-scale batch restoration: inputs, the resumable engine, Dask distribution."""

from galgen.batch.inputs import BatchItem, catalog_items, expand_inputs
from galgen.batch.runner import (
    JOURNAL,
    QUIET_DASK,
    BatchOptions,
    local_cluster,
    process_items,
    read_journal,
    run_batch,
)

__all__ = [
    "BatchItem",
    "expand_inputs",
    "catalog_items",
    "BatchOptions",
    "run_batch",
    "process_items",
    "read_journal",
    "local_cluster",
    "JOURNAL",
    "QUIET_DASK",
]

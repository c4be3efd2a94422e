"""Survey-scale batch restoration: inputs, the resumable engine, Dask distribution."""

from galgen.batch.catalog import plan_catalog, run_catalog
from galgen.batch.inputs import BatchItem, catalog_items, expand_inputs
from galgen.batch.mosaic import open_mosaic
from galgen.batch.psfcheck import check_mosaic_psf
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
    "run_catalog",
    "plan_catalog",
    "open_mosaic",
    "check_mosaic_psf",
    "BatchOptions",
    "run_batch",
    "process_items",
    "read_journal",
    "local_cluster",
    "JOURNAL",
    "QUIET_DASK",
]

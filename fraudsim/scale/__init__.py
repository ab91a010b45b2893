"""Scale-out: shard plans and the runner that executes shards in-process or on Dask."""

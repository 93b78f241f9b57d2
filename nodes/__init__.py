"""Built-in nodes of dataflow, registered through the ``dataflow.nodes`` entry point group."""

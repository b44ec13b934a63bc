"""The Sena graph: state, topology, recovery and the services its nodes use."""

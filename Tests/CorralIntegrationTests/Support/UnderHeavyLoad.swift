import Testing

/// The suites that load the machine most (ChaosTests, SlowClientsTests), one after the other:
/// side by side (suites run in parallel) each would starve the other's clients and time them out.
/// `make test` runs them apart from the other suites too, for the same reason.
@Suite(.serialized) struct UnderHeavyLoad {}

import Testing

/// The suites that load the machine most (ChaosTests, SlowClientsTests), one after the other:
/// side by side (suites run in parallel) each would starve the other's clients and time them out.
@Suite(.serialized) struct UnderHeavyLoad {}

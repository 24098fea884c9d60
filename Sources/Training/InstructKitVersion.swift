/// The version of InstructKit: what `instruct --version` prints and every run summary
/// (`RUN/NAME.json`, `instructkit_version`) records, so a run folder says which build made it.
/// Semantic versioning; raised with each tagged release (the tag `vX.Y.Z` and this agree).
public enum InstructKitVersion {
    /// `MAJOR.MINOR.PATCH`.
    public static let current = "0.1.0"
}

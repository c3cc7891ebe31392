/// Tapir's version, in one place: `tapir --version`, `tapir.version` in Lua, and the Debian
/// package's version (scripts/package reads the `text` line below, so keep it one literal).
public enum TapirVersion {
    public static let text = "0.1.0"
}

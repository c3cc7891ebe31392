/// How a pack is loaded: its settings and the permissions granted to it.
struct PackLoad {
    var pack: Pack
    var config: [String: PackValue]
    var granted: Set<PackPermission>
}

extension TapirHost {
    /// Loads a pack into one fresh, untrusted Lua state of its own: `tapir.config` holds
    /// `config` (see PackManifest.resolve), then its handler files run in order. Of the
    /// permissions `allowed`, only those the manifest lists are granted.
    @discardableResult
    public func load(pack: Pack, config: [String: PackValue], allowed: Set<PackPermission> = []) throws(LuaError) -> Script {
        let path = pack.manifestPath
        packLoads[path] = PackLoad(pack: pack, config: config, granted: allowed.intersection(pack.manifest.permissions))
        do {
            let script = try makeScript(path: path, name: pack.name) { _ in }
            scripts.append(script)
            return script
        } catch {
            packLoads[path] = nil
            throw error
        }
    }
}

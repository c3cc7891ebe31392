import SystemPackage

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

extension TapirHost {
    /// Watches the handler files of every pack loaded and reloads the pack when one is
    /// saved (watchScripts covers pack.lua and the modules a pack required). Needs the
    /// event loop.
    public func watchPackHandlers() {
        for script in scripts {
            guard let load = packLoads[script.path] else { continue }
            for file in load.pack.handlerPaths {
                watch(file, of: script.path)
            }
        }
    }
}

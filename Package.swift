// swift-tools-version:6.1
import PackageDescription

// Layers (see ../shared/DESIGN.md): C shims at the bottom, then Packets, Capture and
// Kernel (the system calls), then Devices and Reactor, then LuaHost, then the `tapir`
// executable. Each target depends only on those above it in this list, and declares
// every module it imports and nothing else (scripts/check-imports checks both).

/// The packet path is one thread with no shared mutable state, so release builds drop
/// Swift's dynamic exclusivity checks there (a tenth of a dispatch's cost when profiled).
let releaseSpeed: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "tapir",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tapir", targets: ["tapir"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // System libraries, found through pkg-config (Debian: liblua5.4-dev, libpcap-dev, libedit-dev).
        .systemLibrary(name: "CLuaSystem", path: "Sources/CLuaSystem", pkgConfig: "lua5.4",
                       providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "CPcapSystem", path: "Sources/CPcapSystem", pkgConfig: "libpcap",
                       providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CEditSystem", path: "Sources/CEditSystem", pkgConfig: "libedit",
                       providers: [.apt(["libedit-dev"])]),
        .systemLibrary(name: "CURingSystem", path: "Sources/CURingSystem", pkgConfig: "liburing",
                       providers: [.apt(["liburing-dev"])]),

        // C shims: macros, variadic calls and everything that may longjmp.
        .target(name: "CLua", dependencies: ["CLuaSystem"]),
        .target(name: "CTunTap", dependencies: ["CURingSystem"]),
        .target(name: "CPacket"),
        .target(name: "CPcap", dependencies: ["CPcapSystem"]),
        .target(name: "CEdit", dependencies: ["CEditSystem"]),
        .target(name: "CKernel"),

        // Swift layers. Release builds skip the run-time exclusivity checks on the packet
        // path (debug builds, which the tests use, keep them).
        .target(name: "Packets", swiftSettings: releaseSpeed),
        .target(name: "Capture", dependencies: [
            "CPcap",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        // Every system call (bar the tun/tap ioctls of CTunTap, libpcap's and libedit's),
        // each failure a SystemError.
        .target(name: "Kernel", dependencies: [
            "CKernel",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        // The host's TCP (docs/tcp-engine.md): segments in and out, timers from a given clock.
        .target(name: "TCPEngine", dependencies: ["Packets"], swiftSettings: releaseSpeed),
        .target(name: "Reactor", dependencies: [
            "CKernel", "Kernel",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .target(name: "Devices", dependencies: [
            "CTunTap", "CPacket", "Capture", "Kernel",
            .product(name: "SystemPackage", package: "swift-system"),
        ], swiftSettings: releaseSpeed),
        .target(name: "LuaHost", dependencies: [
            "CLua", "CEdit", "Packets", "Capture", "Devices", "Kernel", "Reactor", "TCPEngine",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "SystemPackage", package: "swift-system"),
        ], swiftSettings: releaseSpeed),
        .executableTarget(name: "tapir", dependencies: [
            "LuaHost", "TCPEngine", "Devices", "Kernel", "Reactor", "Capture",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The in-memory benchmark (scripts/bench): no dependency beyond the project's own;
        // it counts heap allocations with MallocCounter (its own malloc, this executable only).
        .target(name: "MallocCounter", path: "Benchmarks/MallocCounter"),
        .executableTarget(name: "tapir-bench-memory", dependencies: [
            "LuaHost", "Devices", "Reactor", "Packets", "CLua", "MallocCounter",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "SystemPackage", package: "swift-system"),
        ], path: "Benchmarks/InMemory"),
        // Two TCP engines back to back: a bulk transfer, its heap allocations per segment.
        .executableTarget(name: "tapir-bench-tcp", dependencies: ["TCPEngine", "Packets", "MallocCounter"],
                          path: "Benchmarks/TCPBulk"),

        // Fuzz targets (scripts/fuzz builds them with libFuzzer and ASan; a normal build
        // makes programs that replay inputs through the same code: FuzzPackets FILE|DIR...).
        .systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .target(name: "FuzzDriver", dependencies: ["CLibFuzzer"], path: "Fuzz/FuzzDriver"),
        .executableTarget(name: "FuzzPackets", dependencies: ["FuzzDriver", "Packets"], path: "Fuzz/FuzzPackets"),
        .executableTarget(name: "FuzzTCPEngine", dependencies: ["FuzzDriver", "TCPEngine", "Packets"],
                          path: "Fuzz/FuzzTCPEngine"),
        .executableTarget(name: "FuzzLuaPacket", dependencies: [
            "FuzzDriver", "LuaHost", "Devices", "Reactor",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Fuzz/FuzzLuaPacket"),
        .target(name: "LuaCoverage", path: "Fuzz/LuaCoverage"),
        .executableTarget(name: "FuzzPack", dependencies: [
            "FuzzDriver", "LuaHost", "Devices", "Reactor", "Packets", "CLua", "LuaCoverage",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Fuzz/FuzzPack"),
        .executableTarget(name: "FuzzProto", dependencies: ["FuzzDriver", "LuaHost", "CLua", "LuaCoverage"],
                          path: "Fuzz/FuzzProto"),

        .testTarget(name: "PacketsTests", dependencies: ["Packets"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "CaptureTests", dependencies: [
            "Capture",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .testTarget(name: "KernelTests", dependencies: [
            "Kernel",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .testTarget(name: "ReactorTests", dependencies: [
            "Reactor", "Kernel",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .testTarget(name: "DevicesTests", dependencies: [
            "Devices", "CPacket", "Packets", "Capture", "Kernel",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .testTarget(name: "TCPEngineTests", dependencies: ["TCPEngine", "Packets"],
                    resources: [.copy("Scripts")]),
        .testTarget(name: "LuaHostTests", dependencies: [
            "LuaHost", "CLua", "Packets", "Devices", "Reactor", "Capture", "TCPEngine",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "SystemPackage", package: "swift-system"),
        ], exclude: ["Fixtures"]),  // read by path: the golden packet-writer outputs
        // The tapir command against the real kernel and tshark (root for the kernel tests).
        // Tests/TapirTests/Scripts: scripts the kernel tests hand to tapir by their path.
        .testTarget(name: "TapirTests", dependencies: ["tapir", "Devices", "Capture", "Packets"],
                    exclude: ["Scripts"]),
    ]
)

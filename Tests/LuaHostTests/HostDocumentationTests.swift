import Foundation
import XCTest

/// docs/host.md stays true: each file it lists exists, and each of CLua's C files and each
/// file of the host's parts is listed.
final class HostDocumentationTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func testEveryFileListedExistsAndEveryCFileAndHostPartIsListed() throws {
        let text = try String(contentsOf: root.appendingPathComponent("docs/host.md"), encoding: .utf8)
        var listed: Set<String> = []
        for piece in text.split(separator: "`") where piece.hasSuffix(".c") || piece.hasSuffix(".swift") {
            // A file named with its folder (`Packets/OffloadUndo.swift`, `Sources/Devices/...`)
            // is looked for there; a bare name is one of CLua's or LuaHost's.
            if piece.contains("/"), !piece.contains("<") {
                let path = String(piece)
                let found = [path, "Sources/" + path].contains {
                    FileManager.default.fileExists(atPath: root.appendingPathComponent($0).path)
                }
                XCTAssertTrue(found, "\(path) is listed but not there")
            }
            listed.insert(String(piece.split(separator: "/").last!))
        }
        let cFiles = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Sources/CLua").path)
            .filter { $0.hasSuffix(".c") }
        let hostFiles = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Sources/LuaHost").path)
        for file in listed where !text.contains("/\(file)`") {
            XCTAssertTrue(cFiles.contains(file) || hostFiles.contains(file) || file == "FrameDecoder.swift"
                          || file == "PacketFields.swift" || file.hasSuffix("Tests.swift"), "\(file) is listed but not there")
        }
        for file in cFiles + ["TapirHost.swift", "DeviceSet.swift", "PacketDispatch.swift", "Egress.swift", "ScriptFactory.swift", "TCPService.swift"] {
            XCTAssertTrue(listed.contains(file), "\(file) is not in docs/host.md")
        }
    }
}

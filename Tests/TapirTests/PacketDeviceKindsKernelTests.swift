import Devices
import Foundation
import XCTest

/// The other interface kinds a packet device serves, each held to the veth's client
/// matrix (ping, ping -6, a UDP echo, TCP echoes) against the virtual-host pack: a Linux
/// bridge, and kernel VXLAN and Geneve devices.
extension PacketDeviceKernelTests {
    /// A node on a Linux bridge as containerlab's `bridge` kind and Docker's bridge network
    /// wire one: a lab namespace holds br0; the node's eth1 and the client's eth0 are veths
    /// whose peers are ports of br0. tapir serves the node's eth1. (Serving a bridge's port
    /// itself from the bridge's side would not do: what the bridge sends out of a port is
    /// that port's outgoing traffic, which a packet socket ignores, and a write to it goes
    /// to its peer, not into the bridge.)
    func testANodeOnABridgePortServesTheClientMatrix() throws {
        let lab = try makeSandbox("tapir-test-lab")
        let node = try makeSandbox("tapir-test-node")
        let client = try makeSandbox("tapir-test-client")
        try bridge("br0", in: lab)
        try port(of: "br0", in: lab, named: "p1", to: node, as: "eth1")
        try port(of: "br0", in: lab, named: "p2", to: client, as: "eth0")
        try node.ip(["link", "set", "eth1", "addrgenmode", "none"])
        try node.ip(["link", "set", "eth1", "up"])
        try addressClient(client, device: "eth0")

        try assertVirtualHostServesTheClientMatrix(on: "eth1:packet", in: node, client: client)
    }

    /// tapir on the bridge device itself (`br0:packet,promisc`), as a host on the bridge
    /// would be: the bridge hands its own device the frames for tapir's MAC only in
    /// promiscuous mode (it delivers to itself what is for its own address, broadcast,
    /// or everything when promiscuous); tapir's writes go out through the bridge.
    func testTheBridgeDeviceItselfServesTheClientMatrixInPromiscuousMode() throws {
        let lab = try makeSandbox("tapir-test-lab")
        let client = try makeSandbox("tapir-test-client")
        try bridge("br0", in: lab)
        try port(of: "br0", in: lab, named: "p2", to: client, as: "eth0")
        try addressClient(client, device: "eth0")

        try assertVirtualHostServesTheClientMatrix(on: "br0:packet,promisc", in: lab, client: client)
    }

    /// A kernel VXLAN device (VNI 42, UDP 4789) served as a packet device on one side of a
    /// veth underlay, the other side's kernel the client over its own VXLAN device.
    func testAVXLANDeviceServesTheClientMatrix() throws {
        try assertTunnelServesTheClientMatrix(kind: "vxlan") { local, remote, underlay in
            ["type", "vxlan", "id", "42", "local", local, "remote", remote, "dstport", "4789", "dev", underlay]
        }
    }

    /// The same over a kernel Geneve device (VNI 42, UDP 6081). Skipped on a kernel
    /// without Geneve (`ip link add type geneve` fails).
    func testAGeneveDeviceServesTheClientMatrix() throws {
        try assertTunnelServesTheClientMatrix(kind: "geneve") { _, remote, _ in
            ["type", "geneve", "id", "42", "remote", remote]
        }
    }

    // MARK: - Wiring

    /// A Linux bridge, up, with no addresses of its own (no IPv6 link-local either).
    private func bridge(_ name: String, in lab: Sandbox) throws {
        try lab.ip(["link", "add", name, "type", "bridge"])
        try lab.ip(["link", "set", name, "addrgenmode", "none"])
        try lab.ip(["link", "set", name, "up"])
    }

    /// A veth: `portName` in the lab, a port of `bridgeName`, up; `name` in `other`.
    private func port(of bridgeName: String, in lab: Sandbox, named portName: String,
                      to other: Sandbox, as name: String) throws {
        try checked(ChildProcess.run(["ip", "link", "add", portName, "netns", lab.namespace, "type", "veth",
                                      "peer", "name", name, "netns", other.namespace]), "a veth")
        try lab.ip(["link", "set", portName, "master", bridgeName])
        try lab.ip(["link", "set", portName, "up"])
    }

    /// The client's side: 198.18.0.1/24 and 2001:2::1/64, up.
    private func addressClient(_ client: Sandbox, device: String) throws {
        try client.ip(["addr", "add", "198.18.0.1/24", "dev", device])
        try client.ip(["-6", "addr", "add", "2001:2::1/64", "dev", device, "nodad"])
        try client.ip(["link", "set", device, "up"])
    }

    /// Two namespaces for two machines, joined by a veth underlay (198.18.255.1/30 and
    /// .2/30, 1600 bytes so the tunnels carry 1500-byte frames), a tunnel device tn0 on
    /// each of `kind` (`tunnel(local, remote, underlay)` gives `ip link add tn0`'s arguments): tapir
    /// serves the first machine's tn0 as a packet device, the second machine's kernel,
    /// addressed on its tn0, is the client.
    private func assertTunnelServesTheClientMatrix(kind: String,
        _ tunnel: (_ local: String, _ remote: String, _ underlay: String) -> [String]) throws {
        let server = try makeSandbox("tapir-test-m1")
        let client = try makeSandbox("tapir-test-m2")
        try checked(ChildProcess.run(["ip", "link", "add", "u1", "netns", server.namespace, "mtu", "1600",
                                      "type", "veth", "peer", "name", "u2", "netns", client.namespace, "mtu", "1600"]),
                    "the underlay")
        try server.ip(["addr", "add", "198.18.255.1/30", "dev", "u1"])
        try client.ip(["addr", "add", "198.18.255.2/30", "dev", "u2"])
        try server.ip(["link", "set", "u1", "up"])
        try client.ip(["link", "set", "u2", "up"])
        let made = try ChildProcess.run(["ip", "-n", server.namespace, "link", "add", "tn0"]
                                        + tunnel("198.18.255.1", "198.18.255.2", "u1"))
        if made.status != 0, made.stderr.contains("Unknown device type") || made.stderr.contains("not supported") {
            throw XCTSkip("this kernel has no \(kind) devices (ip link add type \(kind): "
                          + made.stderr.trimmingCharacters(in: .whitespacesAndNewlines) + ")")
        }
        try checked(made, "a \(kind) device")
        try client.ip(["link", "add", "tn0"] + tunnel("198.18.255.2", "198.18.255.1", "u2"))
        try server.ip(["link", "set", "tn0", "addrgenmode", "none"])
        // The tunnel's GRO would hand the packet socket TCP super-frames over the MTU.
        _ = try server.run(["ethtool", "-K", "tn0", "gro", "off"])
        try server.ip(["link", "set", "tn0", "up"])
        try addressClient(client, device: "tn0")

        try assertVirtualHostServesTheClientMatrix(on: "tn0:packet", in: server, client: client)
    }

    /// The virtual-host pack on `device` in `node`, held to the client matrix from `client`,
    /// then stopped cleanly.
    private func assertVirtualHostServesTheClientMatrix(on device: String, in node: Sandbox, client: Sandbox) throws {
        let tapir = try start([TapirCommand.lua("packs/virtual-host"), "--dev", device], in: node)
        try waitForPing("198.18.0.2", from: client, tapir: tapir)
        try assertClientMatrix(from: client)
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
    }

    private func checked(_ output: ProcessOutput, _ what: String) throws {
        guard output.status == 0 else {
            XCTFail("could not make \(what): \(output.stderr)")
            throw XCTSkip("no \(what)")
        }
    }
}

import WarrenJute

/// The wire form of `ZabMessage` between Warren servers (Warren's own quorum protocol, not ZooKeeper's):
/// `int type` then the fields in declaration order — epochs, zxids and server ids as `long`, flags as
/// `boolean`, payloads and snapshot state as `buffer`, `PeerState` as `int`. The shell adds its own framing.
extension ZabMessage: JuteRecord {
    private enum Tag: Int32 {
        case notification = 1, followerInfo, leaderInfo, ackEpoch, diff, trunc, snapshot, proposal, newLeader,
             ackNewLeader, upToDate, ack, commit, inform, ping, pong, forward, syncRequest, syncReply
    }

    public func encode(to w: inout JuteWriter) {
        func tag(_ t: Tag) { w.writeInt(t.rawValue) }
        func zxid(_ z: Zxid) { w.writeLong(z.raw) }
        switch self {
        case let .notification(n):
            tag(.notification)
            w.writeLong(n.vote.leader)
            zxid(n.vote.zxid)
            w.writeLong(n.vote.peerEpoch)
            w.writeLong(n.electionEpoch)
            w.writeInt(n.state.rawValue)
            w.writeBool(n.config != nil)
            if let c = n.config {
                zxid(c.zxid)
                w.writeBuffer(c.payload)
            }
        case let .followerInfo(acceptedEpoch, acceptedLeader, isObserver):
            tag(.followerInfo)
            w.writeLong(acceptedEpoch)
            w.writeLong(acceptedLeader)
            w.writeBool(isObserver)
        case let .leaderInfo(e):
            tag(.leaderInfo)
            w.writeLong(e)
        case let .ackEpoch(e, currentEpoch, lastZxid):
            tag(.ackEpoch)
            w.writeLong(e)
            w.writeLong(currentEpoch)
            zxid(lastZxid)
        case let .diff(e, z), let .trunc(e, z), let .newLeader(e, z), let .ackNewLeader(e, z), let .upToDate(e, z),
             let .ack(e, z), let .commit(e, z), let .ping(e, z):
            tag(Self.tagOfEpochZxid(self))
            w.writeLong(e)
            zxid(z)
        case let .snapshot(e, z, state):
            tag(.snapshot)
            w.writeLong(e)
            zxid(z)
            w.writeBuffer(state)
        case let .proposal(e, entry, prev), let .inform(e, entry, prev):
            if case .proposal = self { tag(.proposal) } else { tag(.inform) }
            w.writeLong(e)
            zxid(entry.zxid)
            w.writeBuffer(entry.payload)
            zxid(prev)
        case let .pong(e):
            tag(.pong)
            w.writeLong(e)
        case let .forward(payload):
            tag(.forward)
            w.writeBuffer(payload)
        case let .syncRequest(token):
            tag(.syncRequest)
            w.writeBuffer(token)
        case let .syncReply(e, z, token):
            tag(.syncReply)
            w.writeLong(e)
            zxid(z)
            w.writeBuffer(token)
        }
    }

    private static func tagOfEpochZxid(_ m: ZabMessage) -> Tag {
        switch m {
        case .diff: return .diff
        case .trunc: return .trunc
        case .newLeader: return .newLeader
        case .ackNewLeader: return .ackNewLeader
        case .upToDate: return .upToDate
        case .ack: return .ack
        case .commit: return .commit
        case .ping: return .ping
        default: preconditionFailure("\(m) is not an (epoch, zxid) message")
        }
    }

    /// Decodes one message. Throws `JuteError` for truncated or malformed bytes and unknown types or states.
    public init(from r: inout JuteReader) throws {
        let raw = try r.readInt()
        guard let tag = Tag(rawValue: raw) else { throw JuteError.badValue("zab message type \(raw)") }
        func zxid() throws -> Zxid { Zxid(raw: try r.readLong()) }
        func bytes() throws -> [UInt8] { try r.readBuffer() ?? [] }
        switch tag {
        case .notification:
            let vote = Vote(leader: try r.readLong(), zxid: try zxid(), peerEpoch: try r.readLong())
            let round = try r.readLong()
            let rawState = try r.readInt()
            guard let state = PeerState(rawValue: rawState) else { throw JuteError.badValue("peer state \(rawState)") }
            let config = try r.readBool() ? LogEntry(zxid: try zxid(), payload: try bytes()) : nil
            self = .notification(Notification(vote: vote, electionEpoch: round, state: state, config: config))
        case .followerInfo:
            self = .followerInfo(acceptedEpoch: try r.readLong(), acceptedLeader: try r.readLong(), isObserver: try r.readBool())
        case .leaderInfo: self = .leaderInfo(epoch: try r.readLong())
        case .ackEpoch: self = .ackEpoch(epoch: try r.readLong(), currentEpoch: try r.readLong(), lastZxid: try zxid())
        case .diff: self = .diff(epoch: try r.readLong(), from: try zxid())
        case .trunc: self = .trunc(epoch: try r.readLong(), to: try zxid())
        case .snapshot: self = .snapshot(epoch: try r.readLong(), lastZxid: try zxid(), state: try bytes())
        case .proposal, .inform:
            let e = try r.readLong()
            let entry = LogEntry(zxid: try zxid(), payload: try bytes())
            let prev = try zxid()
            self = tag == .proposal ? .proposal(epoch: e, entry: entry, prev: prev) : .inform(epoch: e, entry: entry, prev: prev)
        case .newLeader: self = .newLeader(epoch: try r.readLong(), lastZxid: try zxid())
        case .ackNewLeader: self = .ackNewLeader(epoch: try r.readLong(), lastZxid: try zxid())
        case .upToDate: self = .upToDate(epoch: try r.readLong(), committed: try zxid())
        case .ack: self = .ack(epoch: try r.readLong(), upTo: try zxid())
        case .commit: self = .commit(epoch: try r.readLong(), upTo: try zxid())
        case .ping: self = .ping(epoch: try r.readLong(), committed: try zxid())
        case .pong: self = .pong(epoch: try r.readLong())
        case .forward: self = .forward(payload: try bytes())
        case .syncRequest: self = .syncRequest(token: try bytes())
        case .syncReply: self = .syncReply(epoch: try r.readLong(), upTo: try zxid(), token: try bytes())
        }
    }
}

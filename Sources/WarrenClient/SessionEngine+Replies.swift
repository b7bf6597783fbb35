import Logging
import NIOCore
import WarrenJute

extension SessionEngine {
    /// Handles one frame of connection `gen`, in stream order. Anything malformed drops the connection (the
    /// session survives and the client reconnects).
    func handleFrame(_ frame: [UInt8], generation gen: Int) {
        loop.preconditionInEventLoop()
        guard gen == generation else { return }
        lastReceived = .now()
        var reader = JuteReader(frame)
        switch phase {
        case let .handshaking(channel, host):
            do {
                let response = try ConnectResponse(from: &reader)
                handshakeCompleted(response, channel: channel, host: host)
            } catch {
                connectionLost(gen, reason: "bad handshake reply from \(host): \(error)")
            }
        case let .connected(channel), let .closing(channel):
            do {
                try handleReply(&reader)
            } catch {
                logger.warning("dropping the connection: \(error)")
                channel.close(promise: nil)
            }
        case .idle, .connecting, .stopped:
            break
        }
    }

    private func handleReply(_ reader: inout JuteReader) throws {
        let header = try ReplyHeader(from: &reader)
        logger.trace("reply xid \(header.xid) zxid \(hex(header.zxid)) err \(header.err), \(reader.remaining) body bytes")
        switch header.xid {
        case Xid.ping:
            return
        case Xid.notification:
            try handleNotification(&reader)
        case Xid.auth:
            handleAuthReply(header)
        case Xid.setWatches:
            if header.err != 0 {
                logger.warning("setWatches failed: \(ZooKeeperError(raw: header.err, path: nil))")
            }
        default:
            try handleRequestReply(header, &reader)
        }
    }

    private func handleNotification(_ reader: inout JuteReader) throws {
        let raw = try WatcherEvent(from: &reader)
        guard let type = raw.eventType, let state = raw.keeperState else {
            logger.warning("ignoring watch event of unknown type \(raw.type) / state \(raw.state)")
            return
        }
        let event = WatchEvent(type: type, state: state, path: chroot.clientPath(raw.path))
        watches.consume(event)
        hub.publish(event)
    }

    private func handleAuthReply(_ header: ReplyHeader) {
        let waiter = authWaiters.popFirst()
        if header.err == 0 {
            waiter?.promise?.succeed(())
            return
        }
        let error = ZooKeeperError(raw: header.err, path: nil)
        logger.warning("authentication failed: \(error)")
        if let waiter {
            // The credential is bad: forget it so that it is not re-sent.
            authInfo[waiter.index].waiter = nil
            waiter.promise?.fail(error)
        }
        if error.code == .authFailed { stop(.authFailed) }
    }

    private struct ProtocolFault: Error, CustomStringConvertible {
        let description: String
    }

    private func handleRequestReply(_ header: ReplyHeader, _ reader: inout JuteReader) throws {
        guard let request = sent.popFirst() else {
            throw ProtocolFault(description: "reply with xid \(header.xid) to no request")
        }
        guard request.xid == header.xid else {
            // Replies come in request order; anything else means the stream is corrupt.
            sent.prepend(request)
            throw ProtocolFault(description: "reply with xid \(header.xid), expected \(request.xid)")
        }
        if header.zxid > 0 { lastZxidSeen = header.zxid }
        if let watch = request.watch {
            watches.register(watch, code: ErrorCode(rawValue: header.err) ?? .systemError)
        }
        if header.err != 0 {
            request.promise.fail(ZooKeeperError(raw: header.err, path: request.clientPath))
        } else {
            do {
                let response = try Response.decode(for: request.request.opCode, body: &reader)
                request.promise.succeed(response)
            } catch {
                request.promise.fail(ZooKeeperError(.marshallingError, path: request.clientPath,
                                                    message: "\(error)"))
                throw error
            }
        }
        admitBlocked()
    }

    /// Drops the watches a successful removeWatches removed and tells subscribers, as ZooKeeper's client does.
    func watchesRemoved(path clientPath: String, type: WatcherType) {
        loop.preconditionInEventLoop()
        for eventType in watches.remove(path: clientPath, type: type) {
            hub.publish(WatchEvent(type: eventType, state: .syncConnected, path: clientPath))
        }
    }
}

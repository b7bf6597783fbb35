import WarrenZab

extension ServerCore {
    func membershipActivated(zxid: Zxid, members: [ServerId: MemberRole]) -> [CoreAction] {
        []
    }
}

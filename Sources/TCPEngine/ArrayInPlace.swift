// Array's insert and removeSubrange go through generic collection code that allocates in a
// debug build; the engine's range lists (Assembler, SACKScoreboard) use these instead,
// which stay inside the capacity reserved up front: no allocation per segment.
extension Array {
    /// Inserts `element` at `index`, moving the later elements up one by one.
    mutating func insertInPlace(_ element: Element, at index: Int) {
        append(element)
        var at = count - 1
        while at > index {
            self[at] = self[at - 1]
            at -= 1
        }
        self[index] = element
    }

    /// Removes the elements in `gone`, moving the later ones down one by one.
    mutating func removeInPlace(_ gone: Range<Int>) {
        guard !gone.isEmpty else { return }
        var at = gone.lowerBound
        while at + gone.count < count {
            self[at] = self[at + gone.count]
            at += 1
        }
        removeLast(gone.count)
    }
}

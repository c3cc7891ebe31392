// The Reactor layer (see DESIGN.md). Built up by its issue.

// jsdom has no DragEvent, which @lumino/dragdrop (under @lumino/widgets) subclasses at import.
if (typeof MouseEvent !== 'undefined' && typeof DragEvent === 'undefined') {
  (globalThis as Record<string, unknown>).DragEvent = class DragEvent extends (
    MouseEvent
  ) {};
}

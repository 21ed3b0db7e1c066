// The live grid's layout: auto (as many columns as fit, every tile), or 1, 4, 9 or 16
// tiles a page with pages to turn; remembered in this browser (localStorage). A tile goes
// full screen (its button, a double-click on the picture) and back (Esc, the button).
// `?layout=` in the address sets it for that page (a wall screen's kiosk URL).
// Only the tiles on the shown page play: `onShown(tile, shown)` starts and stops them.

const KEY = "nvr-edge-layout";
export const LAYOUTS = ["auto", "1", "4", "9", "16"];

export class Grid {
  constructor({ grid, layout, previous, next, page }, onShown) {
    Object.assign(this, { grid, picker: layout, previous, next, pageText: page, onShown });
    this.tiles = [];
    this.page = 0;
    this.full = null;
    // ?layout=9 (a wall screen's kiosk URL) wins over what this browser remembers
    const asked = new URLSearchParams(window.location.search).get("layout");
    const saved = localStorage.getItem(KEY);
    this.layout = [asked, saved].find((l) => LAYOUTS.includes(l)) || "auto";
    this.picker.value = this.layout;
    this.picker.addEventListener("change", () => this.setLayout(this.picker.value));
    previous.addEventListener("click", () => this.turn(-1));
    next.addEventListener("click", () => this.turn(1));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.full) this.leaveFull();
    });
    document.addEventListener("fullscreenchange", () => {
      if (!document.fullscreenElement && this.full) this.leaveFull();
    });
  }

  get perPage() {
    return this.layout === "auto" ? Infinity : Number(this.layout);
  }

  get pages() {
    return Math.max(1, Math.ceil(this.tiles.length / this.perPage));
  }

  // `tiles`: [{element, ...}] in the grid's order.
  setTiles(tiles) {
    if (this.full) this.leaveFull();
    this.tiles = tiles;
    this.grid.replaceChildren(...tiles.map((t) => t.element));
    for (const tile of tiles) this.wireFull(tile);
    this.page = Math.min(this.page, this.pages - 1);
    this.render();
  }

  setLayout(layout) {
    if (!LAYOUTS.includes(layout)) return;
    this.layout = layout;
    localStorage.setItem(KEY, layout);
    this.picker.value = layout;
    this.page = 0;
    this.render();
  }

  turn(step) {
    this.page = Math.min(this.pages - 1, Math.max(0, this.page + step));
    this.render();
  }

  render() {
    const n = this.perPage;
    const columns = n === Infinity ? 0 : Math.sqrt(n);
    this.grid.dataset.layout = this.layout;
    this.grid.style.setProperty("--columns", String(columns || 1));
    // a page not filled keeps the layout's rows: tiles stay the same size on every page
    this.grid.style.setProperty("--rows", String(columns || 1));
    const first = n === Infinity ? 0 : this.page * n;
    this.tiles.forEach((tile, i) => {
      const shown = n === Infinity || (i >= first && i < first + n);
      if (tile.shown !== shown) {
        tile.shown = shown;
        tile.element.hidden = !shown;
        this.onShown(tile, shown);
      }
    });
    const paged = this.pages > 1;
    for (const part of [this.previous, this.next, this.pageText]) part.hidden = !paged;
    this.pageText.textContent = `page ${this.page + 1} of ${this.pages}`;
    this.previous.disabled = this.page === 0;
    this.next.disabled = this.page >= this.pages - 1;
  }

  wireFull(tile) {
    const button = tile.element.querySelector(".tile-full");
    button.addEventListener("click", () => (this.full === tile ? this.leaveFull()
      : this.enterFull(tile)));
    tile.element.querySelector(".live").addEventListener("dblclick", () => this.enterFull(tile));
  }

  // The tile over the whole window, and the screen's full screen where the browser lets
  // the page have it (a click or a key, not a script alone).
  enterFull(tile) {
    if (this.full) this.leaveFull();
    this.full = tile;
    markFull(tile, true);
    if (tile.element.requestFullscreen) tile.element.requestFullscreen().catch(() => {});
  }

  leaveFull() {
    const tile = this.full;
    if (!tile) return;
    this.full = null;
    markFull(tile, false);
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }
}

function markFull(tile, full) {
  tile.element.classList.toggle("full", full);
  document.body.classList.toggle("has-full", full);
  const button = tile.element.querySelector(".tile-full");
  button.setAttribute("aria-pressed", String(full));
  button.textContent = full ? "Exit full screen" : "Full screen";
  button.focus();
}

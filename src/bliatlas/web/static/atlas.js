// Bli-atlas: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  // Map tooltips on hover and keyboard focus; the text is the link's accessible name.
  function tooltips() {
    var tip = document.getElementById("tooltip");
    if (!tip) return;
    function show(a, x, y) {
      tip.textContent = a.getAttribute("data-tip");
      tip.hidden = false;
      var w = tip.offsetWidth, h = tip.offsetHeight;
      var left = Math.min(x + 14, window.innerWidth - w - 8);
      var top = y + 16 + h > window.innerHeight ? y - h - 12 : y + 16;
      tip.style.left = Math.max(4, left) + "px";
      tip.style.top = Math.max(4, top) + "px";
    }
    function hide() { tip.hidden = true; }
    document.querySelectorAll("svg.map").forEach(function (svg) {
      svg.addEventListener("mousemove", function (e) {
        var a = e.target.closest("a[data-tip]");
        if (a) show(a, e.clientX, e.clientY); else hide();
      });
      svg.addEventListener("mouseleave", hide);
      svg.addEventListener("focusin", function (e) {
        var a = e.target.closest("a[data-tip]");
        if (!a) return;
        var r = a.getBoundingClientRect();
        show(a, r.left + r.width / 2, r.top + r.height / 2);
      });
      svg.addEventListener("focusout", hide);
    });
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") hide(); });
  }
  // Client-side sorting of tables marked .sortable (the header links sort on the server).
  // Names in Norwegian alphabetical order (… z, æ, ø, å; aa = å), as bliatlas.collate does.
  var collator = window.Intl && Intl.Collator ? new Intl.Collator("nb") : null;
  function compareText(a, b) {
    return collator ? collator.compare(a, b) : (a < b ? -1 : a > b ? 1 : 0);
  }
  function sortable() {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      var heads = table.querySelectorAll("thead th");
      heads.forEach(function (th, col) {
        var link = th.querySelector("a");
        if (!link) return;
        link.addEventListener("click", function (e) {
          e.preventDefault();
          var asc = th.getAttribute("aria-sort") !== "ascending";
          var numeric = th.classList.contains("n");
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) {
            var va = a.cells[col].getAttribute("data-v"), vb = b.cells[col].getAttribute("data-v");
            if (numeric) {
              if (va === "" && vb === "") return 0;
              if (va === "") return 1;
              if (vb === "") return -1;
              return asc ? va - vb : vb - va;
            }
            return asc ? compareText(va, vb) : compareText(vb, va);
          });
          rows.forEach(function (r) { body.appendChild(r); });
          heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
          th.setAttribute("aria-sort", asc ? "ascending" : "descending");
          if (window.history && history.replaceState) {
            var url = new URL(link.href, location.href);
            url.searchParams.set("sort", th.getAttribute("data-key"));
            if (asc) url.searchParams.delete("retning"); else url.searchParams.set("retning", "synkende");
            history.replaceState(null, "", url.pathname + url.search + "#" + table.id);
          }
        });
      });
    });
  }
  // PNG downloads of charts: the chart's own SVG (same origin, so the canvas stays
  // readable) drawn on a canvas at twice its size, in the browser; nothing leaves the
  // machine. Without this script the SVG and CSV links still work.
  function pngLinks() {
    document.querySelectorAll("a[data-png]").forEach(function (svgLink) {
      var png = document.createElement("button");
      png.type = "button";
      png.className = "linklike";
      png.textContent = "PNG";
      png.setAttribute("aria-label", svgLink.getAttribute("aria-label").replace(/SVG$/, "PNG"));
      png.addEventListener("click", function () {
        var img = new Image();
        img.onload = function () {
          var canvas = document.createElement("canvas");
          canvas.width = img.naturalWidth * 2;
          canvas.height = img.naturalHeight * 2;
          var g = canvas.getContext("2d");
          g.fillStyle = "#fff";
          g.fillRect(0, 0, canvas.width, canvas.height);
          g.drawImage(img, 0, 0, canvas.width, canvas.height);
          canvas.toBlob(function (blob) {
            var a = document.createElement("a");
            a.href = URL.createObjectURL(blob);
            a.download = svgLink.getAttribute("data-png").split("/").pop().split("?")[0]
              .replace(/\.svg$/, ".png");
            document.body.appendChild(a);
            a.click();
            setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
          }, "image/png");
        };
        img.src = svgLink.getAttribute("data-png");
      });
      svgLink.insertAdjacentText("afterend", " · ");
      svgLink.nextSibling.after(png);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tooltips(); sortable(); pngLinks(); });
})();

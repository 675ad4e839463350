// Maps of the node, drawn with the Leaflet copy the node serves itself. The tiles come from the
// node's map_tile_url; when they cannot load, the points still show on the map's plain ground.
//   data-mode="cases": the cases of data-points, each a dot linking to its case.
//   data-mode="pick":  a click sets the point of a report into the inputs data-lat / data-long.
(function () {
  "use strict";
  var COLOURS = {
    new: "#0b5cad", acknowledged: "#9a6400", in_progress: "#9a6400",
    resolved: "#1b7a3a", rejected: "#5b6570", duplicate: "#5b6570"
  };

  function baseMap(element) {
    var settings = JSON.parse(element.dataset.map);
    var map = L.map(element, { scrollWheelZoom: false });
    L.tileLayer(settings.tiles, { attribution: settings.attribution, maxZoom: 19 }).addTo(map);
    map.carmenSettings = settings;
    return map;
  }

  function openAt(map, bounds) {
    var settings = map.carmenSettings;
    if (settings.center) {
      map.setView(settings.center, settings.zoom);
    } else if (bounds && bounds.isValid()) {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
    } else {
      map.setView([48, 10], 4); // Europe, until the node is told where its city is
    }
  }

  function caseMap(element) {
    var map = baseMap(element);
    var points = JSON.parse(element.dataset.points);
    // The view is set before any layer is added: Leaflet draws nothing on a map without one.
    openAt(map, L.latLngBounds(points.map(function (p) { return [p.lat, p.long]; })));
    points.forEach(function (point) {
      var colour = COLOURS[point.status] || "#3a3f8f";
      var dot = L.circleMarker([point.lat, point.long], {
        radius: 7, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 0.9
      }).addTo(map);
      var link = document.createElement("a");
      link.href = point.url;
      link.textContent = point.label;
      dot.bindPopup(link);
      dot.getElement().setAttribute("data-code", point.code);
    });
  }

  function pickMap(element) {
    var map = baseMap(element);
    var lat = document.getElementById(element.dataset.lat);
    var long = document.getElementById(element.dataset.long);
    var marker = null;
    function place(latlng) {
      if (marker) { marker.setLatLng(latlng); } else {
        marker = L.circleMarker(latlng, {
          radius: 9, color: "#fff", weight: 2, fillColor: "#b3261e", fillOpacity: 0.9
        }).addTo(map);
      }
    }
    var given = parseFloat(lat.value), givenLong = parseFloat(long.value);
    if (!isNaN(given) && !isNaN(givenLong)) {
      place([given, givenLong]);
      map.setView([given, givenLong], 16);
    } else {
      openAt(map, null);
    }
    map.on("click", function (event) {
      place(event.latlng);
      lat.value = event.latlng.lat.toFixed(6);
      long.value = event.latlng.lng.toFixed(6);
    });
  }

  if (typeof L === "undefined") { return; } // the page works without the map
  document.querySelectorAll("[data-mode=cases]").forEach(caseMap);
  document.querySelectorAll("[data-mode=pick]").forEach(pickMap);
})();

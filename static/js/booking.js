// "Use my location" on the station list: fills lat/lon and submits the filter form.
// Without JavaScript, or when the member declines, the district filter still works.
(function () {
  "use strict";
  var button = document.getElementById("locate");
  var form = document.getElementById("station-filter");
  var status = document.getElementById("locate-status");
  if (!button || !form || !("geolocation" in navigator)) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(
      function (position) {
        document.getElementById("lat").value = position.coords.latitude.toFixed(5);
        document.getElementById("lon").value = position.coords.longitude.toFixed(5);
        form.submit();
      },
      function () {
        button.disabled = false;
        if (status) {
          status.textContent = button.getAttribute("data-denied");
        }
      },
      { enableHighAccuracy: false, timeout: 10000, maximumAge: 600000 }
    );
  });
})();

function showMessage(id) {
  var panel = document.getElementById(id.split('m')[0] + '-panel');
  var detail = document.getElementById(id);
  if (!panel || !detail) return false;
  panel.querySelectorAll('.msgdetail').forEach(function (d) { d.hidden = d !== detail; });
  panel.querySelectorAll('.hint').forEach(function (h) { h.hidden = true; });
  document.querySelectorAll('.selected').forEach(function (s) { s.classList.remove('selected'); });
  document.querySelectorAll('[data-msg="' + id + '"]').forEach(function (s) { s.classList.add('selected'); });
  return true;
}
document.addEventListener('click', function (ev) {
  var hit = ev.target.closest('[data-msg]');
  if (hit && showMessage(hit.getAttribute('data-msg'))) {
    history.replaceState(null, '', '#' + hit.getAttribute('data-msg'));
  }
});
document.addEventListener('keydown', function (ev) {
  var hit = ev.target.closest && ev.target.closest('[data-msg]');
  if (hit && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); hit.dispatchEvent(new MouseEvent('click', {bubbles: true})); }
});
if (location.hash && /^#s[0-9]+m[0-9]+$/.test(location.hash)) showMessage(location.hash.slice(1));

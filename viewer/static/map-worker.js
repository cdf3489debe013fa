// The map's clustering, off the main thread: supercluster over the view's positions (sent once as the
// binary arrays of /api/map/points), answering each pan or zoom with the clusters of the view.
"use strict";

self.importScripts("vendor/supercluster/supercluster.min.js");

let index = null;
let ids = null;

function load(msg) {
  const { buffer, count, offset } = msg;
  const lat = new Float32Array(buffer, offset, count);
  const lon = new Float32Array(buffer, offset + 4 * count, count);
  ids = new Uint32Array(buffer, offset + 8 * count, count);
  const features = new Array(count);
  for (let i = 0; i < count; i++) {
    features[i] = { type: "Feature", properties: { i }, geometry: { type: "Point", coordinates: [lon[i], lat[i]] } };
  }
  // radius is in pixels of 256-pixel tiles, as Leaflet's (supercluster's default extent is 512)
  index = new Supercluster({ radius: msg.radius, extent: 256, maxZoom: msg.maxZoom, minPoints: 2 }).load(features);
  self.postMessage({ type: "ready", seq: msg.seq });
}

// Each cluster or point as [lat, lon, count, id]: id is the photo's id for a point, the (negative)
// cluster id for a cluster, so one Float64Array carries a whole view.
function view(msg) {
  const found = index.getClusters(msg.bbox, msg.zoom);
  const out = new Float64Array(found.length * 4);
  found.forEach((f, k) => {
    const [lon, lat] = f.geometry.coordinates;
    const p = f.properties;
    out.set([lat, lon, p.cluster ? p.point_count : 1, p.cluster ? -p.cluster_id : ids[p.i]], k * 4);
  });
  self.postMessage({ type: "view", seq: msg.seq, clusters: out }, [out.buffer]);
}

function expand(msg) {
  self.postMessage({ type: "expand", seq: msg.seq, zoom: index.getClusterExpansionZoom(msg.cluster) });
}

function leaves(msg) {
  const found = index.getLeaves(msg.cluster, msg.limit, msg.offset);
  self.postMessage({ type: "leaves", seq: msg.seq, ids: found.map((f) => ids[f.properties.i]) });
}

self.onmessage = (event) => {
  const msg = event.data;
  try {
    if (msg.type === "load") load(msg);
    else if (msg.type === "view") view(msg);
    else if (msg.type === "expand") expand(msg);
    else if (msg.type === "leaves") leaves(msg);
  } catch (err) {
    self.postMessage({ type: "error", seq: msg.seq, message: String(err) });
  }
};

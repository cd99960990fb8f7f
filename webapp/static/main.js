// The page's script: start the viewer with the browser's document and MQTT.js.

import mqtt from "./vendor/mqtt.esm.js";
import { start } from "./viewer.js";

start({ doc: document, win: window, mqtt });

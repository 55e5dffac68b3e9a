-- d6093175-8b34-5445-afd3-4f8fce725180 medium Hugging Face billing payment method or cloud account changed
-- A payment method or a linked AWS/GCP billing account was added, updated or removed.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('billing.update_payment_method', 'billing.remove_payment_method', 'billing.create_customer', 'billing.aws_add', 'billing.aws_remove', 'billing.gcp_add', 'billing.gcp_remove')
ORDER BY eventTime, eventID
